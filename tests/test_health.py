from shop.extensions import db


def test_healthz_reports_database_and_outbox_counts(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    shopper.checkout()
    smtp.wait_for(2)  # the address confirmation (from registering) and the order confirmation
    from tests.conftest import wait_until

    def body():
        data = app.test_client().get("/healthz").get_json()
        return data if data["outbox"]["sent"] == 2 else None

    data = wait_until(body, what="the outbox to show two sent emails")
    assert data == {"status": "ok", "database": "ok", "outbox": {"pending": 0, "sending": 0, "sent": 2, "failed": 0}}


def test_healthz_says_503_when_the_database_is_unusable(app):
    with app.app_context():
        db.session.execute(db.text("DROP TABLE outbox_email"))
        db.session.commit()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"
