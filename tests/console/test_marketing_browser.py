"""Marketing and operations screens in a real headless chromium: the segment builder's live count
equals the API's, k-anonymity shows as suppressed cells, ingestion health, both languages."""

from __future__ import annotations

import json

import httpx

from tests.console.seed import Seeded

DAIRY_NOT_MEAT = {"type": "and", "conditions": [
    {"type": "purchase", "categories": ["dairy"], "window": {"last": 90, "unit": "days"}},
    {"type": "not", "condition": {"type": "purchase", "categories": ["meat"], "window": {"last": 90, "unit": "days"}}}]}


def _api_count(base: str, seeded: Seeded, definition: dict) -> int:
    """The same count straight from GraphQL, logged in as the marketer."""
    login = httpx.post(base + "/graphql", json={
        "query": "mutation($u: String!, $p: String!, $w: String!) { login(username: $u, password: $p, workspace: $w) { token } }",
        "variables": {"u": seeded.username("marketer"), "p": seeded.passwords["marketer"], "w": seeded.workspace}})
    token = login.json()["data"]["login"]["token"]
    r = httpx.post(base + "/graphql", headers={"Authorization": f"Bearer {token}", "X-Veil-Purpose": "marketing"},
                   json={"query": "query($d: JSON!) { segmentPreview(definition: $d) { count } }",
                         "variables": {"d": definition}})
    return r.json()["data"]["segmentPreview"]["count"]


def test_marketer_builds_dairy_but_never_meat_and_sees_the_api_count(console, seeded: Seeded):
    console.login(seeded, "marketer")
    page = console.page
    page.goto(console.base + "/console/#/segments")
    page.wait_for_selector("#conditions fieldset")
    first = page.locator("#conditions fieldset").nth(0)
    first.locator("select[name=category]").select_option("dairy")
    first.locator("input[name=days]").fill("90")
    page.click("#add-condition")
    second = page.locator("#conditions fieldset").nth(1)
    second.locator("select[name=category]").select_option("meat")
    second.locator("input[name=negate]").check()
    expected = json.dumps(DAIRY_NOT_MEAT, separators=(",", ":"))
    console.wait_until(f"document.querySelector('#live-count').dataset.definition === {json.dumps(expected)}")
    shown = int(page.get_attribute("#live-count", "data-count"))
    assert shown == _api_count(console.base, seeded, DAIRY_NOT_MEAT)
    assert shown > 0
    assert "Your role sees counts only" in page.inner_text("#sample")  # marketers get no individuals
    page.fill("input[name=segname]", "Dairy, no meat (90 days)")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_selector(".state.ok:has-text('Saved')")
    page.get_by_role("button", name="Evaluate now: Dairy, no meat (90 days)").click()
    page.wait_for_selector(f"#toast:has-text('Evaluated: {shown} members')")
    page.get_by_role("button", name="Size over time: Dairy, no meat (90 days)").click()
    page.wait_for_selector("#size-chart")
    console.wait_until("!document.querySelector('#size-chart').closest('[hidden]')")
    console.shot("marketer-segments-en")


def test_marketer_sees_suppressed_cells_and_analyst_does_not(console, seeded: Seeded):
    console.login(seeded, "marketer")
    page = console.page
    page.goto(console.base + "/console/#/dashboards")
    page.wait_for_selector("#attribution table", timeout=60_000)
    page.wait_for_selector("#aov-tier table", timeout=60_000)
    suppressed = page.locator(".suppressed")
    assert suppressed.count() > 0
    assert suppressed.first.get_attribute("title") == "Suppressed: fewer people than the k-anonymity threshold"
    assert page.locator("#aov-tier canvas").count() == 1
    console.shot("marketer-dashboards-en")
    page.click("text=Log out")
    page.wait_for_selector("input[name=username]")
    console.login(seeded, "analyst")
    page.goto(console.base + "/console/#/dashboards")
    page.wait_for_selector("#attribution table", timeout=60_000)
    page.wait_for_selector("#aov-tier table", timeout=60_000)
    page.wait_for_selector("#cohorts table", timeout=60_000)
    assert page.locator(".suppressed").count() == 0  # analysts may see individuals: no k suppression


def test_ingestion_health_for_operators(console, seeded: Seeded):
    console.login(seeded, "data_engineer")
    page = console.page
    page.goto(console.base + "/console/#/health")
    page.wait_for_selector("#health-cards .card")
    text = page.inner_text("#health-cards")
    assert "reachable" in text and "Active profiles" in text and "Audit head seq" in text
    console.shot("operator-health-en")


def test_traditional_chinese_switch_and_screens(console, seeded: Seeded):
    console.login(seeded, "compliance_officer", lang="zh-Hant")
    page = console.page
    assert page.get_attribute("html", "lang") == "zh-Hant"
    assert "稽核軌跡" in page.inner_text("#nav") and "登出" in page.inner_text("#topbar")
    page.goto(f"{console.base}/console/#/who?type=email&value={seeded.amy_email}")
    page.wait_for_selector("#who-results table")
    assert "客服人員" in page.inner_text("#who-results")
    console.shot("compliance-who-zh")
    page.get_by_role("button", name="切換語言").click()
    page.wait_for_selector("text=Who saw this customer")
    assert page.get_attribute("html", "lang") == "en"
    page.wait_for_selector("#who-results table")  # the screen re-rendered (and re-read) in English
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("input[name=username]")
    console.login(seeded, "marketer", lang="zh-Hant")
    page.goto(console.base + "/console/#/segments")
    page.wait_for_selector("#live-count[data-count]")
    assert "分眾建立" in page.inner_text("#main h1")
    console.shot("marketer-segments-zh")


def test_admin_overrides_a_trait_category_in_the_catalog(console, seeded: Seeded, container):
    console.login(seeded, "admin")
    page = console.page
    page.goto(console.base + "/console/#/catalog")
    row = page.locator("#catalog-results tbody tr", has_text="city")
    row.wait_for()
    row.get_by_label("PII category: city").select_option("location")
    row.get_by_role("button", name="Set: city").click()
    page.wait_for_selector("#toast:has-text('city is now location')")
    page.locator("#catalog-results tbody tr", has_text="administrator").filter(has_text="city").wait_for()
    assert any(r["a"]["resource"] == "trait_catalog" and r["a"]["action"] == "policy_change"
               for r in container.driver.execute_query(
                   "MATCH (a:AuditRecord {workspace: $w}) RETURN a {.*} AS a", w=seeded.workspace,
                   database_=container.neo4j.database).records)
    console.shot("admin-catalog-en")
