"""Email: the outbox table (outbox.py), sending with a deadline (sender.py) and the bounded
pool that sends after commit (dispatcher.py). Nothing here imports a blueprint."""
