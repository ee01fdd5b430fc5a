import pytest

from tests.conftest import settings_for


def test_404_page_is_in_the_site_layout(browser):
    response = browser.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<a class="brand"' in html
    assert "There is nothing here" in html


def test_405_names_the_allowed_methods(browser):
    response = browser.client.delete("/cart")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_400_for_a_missing_csrf_token(browser, products):
    response = browser.client.post("/auth/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_413_for_an_oversized_body(browser):
    response = browser.client.post("/auth/login", data={"email": "a" * (3 * 1024 * 1024)})
    assert response.status_code == 413


@pytest.mark.parametrize("code", [400, 403, 404, 409, 500])
def test_every_error_page_renders_in_the_layout(tmp_path, smtp, db_url, code):
    from flask import abort

    from shop import create_app

    app = create_app(settings_for(tmp_path, smtp, db_url, PROPAGATE_EXCEPTIONS=False))

    @app.get("/fail")
    def fail():
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    response = app.test_client().get("/fail")
    assert response.status_code == code
    html = response.get_data(as_text=True)
    assert '<a class="brand"' in html
    assert "boom" not in html
    assert "Traceback" not in html
