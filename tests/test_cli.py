import sqlalchemy as sa

from shop.extensions import db
from shop.models import Category, Product, ProductImage, User

GOOD_CSV = """sku,name,description,price,stock,category
TEA-1,Assam Tea,"Malty, brisk",12.50,40,Tea
MUG-1,Enamel Mug,A blue mug,8.25,10,Mugs
"""


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def products_by_sku(app) -> dict[str, Product]:
    with app.app_context():
        return {p.sku: p for p in db.session.execute(sa.select(Product)).scalars()}


def test_import_products_creates_then_updates_by_sku(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(GOOD_CSV)
    result = run(app, "shop", "import-products", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 2 new and updated 0" in result.output
    path.write_text(GOOD_CSV.replace("12.50,40", "13.00,5"))
    result = run(app, "shop", "import-products", str(path))
    assert "imported 0 new and updated 2" in result.output
    products = products_by_sku(app)
    assert (products["TEA-1"].price_cents, products["TEA-1"].stock) == (1300, 5)
    assert products["TEA-1"].description == "Malty, brisk"
    with app.app_context():
        assert sorted(db.session.execute(sa.select(Category.slug)).scalars()) == ["mugs", "tea"]


def test_a_bad_row_is_reported_by_line_and_nothing_is_written(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(
        GOOD_CSV
        + "BAD-1,Broken,,12.5.0,3,Tea\n"
        + "BAD-2,,no name,1.00,-4,Tea\n"
        + "TEA-1,Duplicate,,1.00,1,Tea\n"
        + "BAD-3,Cheap,,0.001,1,Tea\n"
    )
    result = run(app, "shop", "import-products", str(path))
    assert result.exit_code != 0
    assert "line 4: price" in result.output
    assert "line 5: name must be 1 to 200 characters; stock must be a whole number" in result.output
    assert "line 6: sku TEA-1 already on line 2" in result.output
    assert "line 7: price: '0.001' has more than 2 decimals" in result.output
    assert "nothing was imported" in result.output
    assert products_by_sku(app) == {}


def test_a_file_without_the_columns_is_refused(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("name,price\nTea,1.00\n")
    result = run(app, "shop", "import-products", str(path))
    assert result.exit_code != 0
    assert "missing column(s) sku, description, stock, category" in result.output


def test_seed_demo_loads_once(app):
    result = run(app, "shop", "seed-demo")
    assert "loaded the demo catalogue: 24 products, 24 photos" in result.output
    loaded = len(products_by_sku(app))
    assert loaded >= 20
    with app.app_context():  # every demo product has its picture, re-encoded like an upload
        photos = db.session.execute(sa.select(ProductImage.key, ProductImage.alt_text)).all()
        assert len(photos) == loaded
        assert {alt for _, alt in photos} == set(db.session.execute(sa.select(Product.name)).scalars())
    page = app.test_client().get("/").get_data(as_text=True)
    assert page.count("<picture>") == min(loaded, 12)
    result = run(app, "shop", "seed-demo")
    assert "not loaded" in result.output
    assert len(products_by_sku(app)) == loaded


def test_create_admin_with_password_option_and_prompt(app):
    result = run(app, "shop", "create-admin", "Owner@Example.com", "--password", "a-long-admin-password")
    assert result.exit_code == 0, result.output
    result = run(
        app, "shop", "create-admin", "second@example.com", input="another-long-password\nanother-long-password\n"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        admins = db.session.execute(sa.select(User).where(User.is_admin)).scalars().all()
        assert sorted(u.email for u in admins) == ["owner@example.com", "second@example.com"]
        assert admins[0].check_password("a-long-admin-password")


def test_create_admin_refuses_a_short_password(app):
    result = run(app, "shop", "create-admin", "owner@example.com", "--password", "short")
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output


def test_create_admin_promotes_an_existing_account(app, shopper):
    result = run(app, "shop", "create-admin", "ada@example.com", "--password", "whatever-it-is-1")
    assert "now an admin" in result.output
    with app.app_context():
        assert db.session.execute(sa.select(User.is_admin).where(User.email == "ada@example.com")).scalar_one()


def test_import_keeps_line_breaks_inside_cells_as_they_are(app, tmp_path):
    """A description typed in the admin's text area has CRLF line breaks (browsers send
    them so); the export writes them inside a quoted cell, and the import must keep them."""
    path = tmp_path / "products.csv"
    path.write_bytes(b'sku,name,description,price,stock,category\r\nT-1,Tea,"one\r\ntwo\nthree",1.00,1,\r\n')
    result = run(app, "shop", "import-products", str(path))
    assert result.exit_code == 0, result.output
    assert products_by_sku(app)["T-1"].description == "one\r\ntwo\nthree"


def test_a_file_that_is_not_utf8_is_refused_with_a_message(app, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes("sku,name,description,price,stock,category\nT-1,Kräuter,,1.00,1,\n".encode("latin-1"))
    result = run(app, "shop", "import-products", str(path))
    assert result.exit_code != 0
    assert "is not UTF-8 text" in result.output
    assert products_by_sku(app) == {}


def test_cancel_unpaid_refuses_more_days_than_a_date_can_go_back(app):
    """timedelta(days=99999999) overflowed: a traceback, not a message."""
    result = run(app, "shop", "cancel-unpaid", "--days", "99999999")
    assert result.exit_code == 2
    assert "99999999 is not in the range 1<=x<=3650" in result.output
