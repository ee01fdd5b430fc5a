"""GET /healthz: up or down for anyone; the details for the owner (a signed-in admin, or a
monitor with SHOP_HEALTH_TOKEN)."""

from shop.extensions import db
from tests.conftest import signed_in_admin, wait_until

TOKEN = "monitor-token-0123456789"


def test_anyone_learns_only_up_or_down(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_the_owner_sees_the_database_and_the_outbox(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    shopper.checkout()
    smtp.wait_for(2)  # the address confirmation (from registering) and the order confirmation
    owner = signed_in_admin(app)  # registering queues one more confirmation

    def body():
        data = owner.get("/healthz").get_json()
        return data if data["outbox"]["sent"] == 3 else None

    data = wait_until(body, what="the outbox to show three sent emails")
    assert data == {
        "status": "ok",
        "database": "ok",
        "outbox": {"pending": 0, "sending": 0, "sent": 3, "failed": 0},
        "mail_server": "reachable",
    }
    assert shopper.get("/healthz").get_json() == {"status": "ok"}  # a signed-in customer is not the owner


def test_a_monitor_with_the_token_sees_the_details_and_a_wrong_token_does_not(make_app):
    app = make_app(SHOP_HEALTH_TOKEN=TOKEN)
    client = app.test_client()
    detailed = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert detailed["database"] == "ok"
    assert "outbox" in detailed
    for wrong in (f"Bearer {TOKEN}x", TOKEN, "Bearer ", f"Basic {TOKEN}"):
        assert client.get("/healthz", headers={"Authorization": wrong}).get_json() == {"status": "ok"}


def test_healthz_says_503_when_the_database_is_unusable(make_app):
    app = make_app(SHOP_HEALTH_TOKEN=TOKEN)
    with app.app_context():
        db.session.execute(db.text("DROP TABLE outbox_email"))
        db.session.commit()
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error"}
    detailed = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert detailed.status_code == 503
    assert detailed.get_json()["database"] == "unavailable"
