"""Fixtures for the browser tests: one app server per session, one fresh browser context
(a fresh Streamlit session, 1280x800) per test, a screenshot when a test fails."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.harness import AppServer, launch_chromium, new_offline_context

VIEWPORT = (1280, 800)


@pytest.fixture(scope="session")
def app_server():
    server = AppServer().start()
    yield server
    exit_code = server.stop()
    output = server.output()
    server.cleanup()
    if exit_code is not None:
        pytest.fail(f"The app died during the tests (exit code {exit_code}).\n{output}")


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright)
        except RuntimeError as error:  # no chromium: fail, never skip, so CI cannot go green
            pytest.fail(str(error), pytrace=False)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def failure_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-failures")


@pytest.fixture
def page(browser, app_server, failure_dir):
    context, offline = new_offline_context(browser, *VIEWPORT)
    page = context.new_page()
    yield page
    context.close()
    refused = "\n  ".join(sorted(set(offline.attempted)))
    assert not refused, f"The page tried to reach hosts other than 127.0.0.1:\n  {refused}"
    assert not app_server.died(), f"The app died during the test.\n{app_server.output()}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if report.when == "call" and report.failed else None
    if page is None or page.is_closed():
        return
    name = re.sub(r"[^\w.-]+", "_", item.nodeid)[-120:]
    path = item.funcargs["failure_dir"] / f"{name}.png"
    try:
        page.screenshot(path=path, full_page=True)
        report.sections.append(("screenshot", f"saved to {path}"))
    except Exception as error:  # the screenshot only helps; it must not hide the failure
        report.sections.append(("screenshot", f"could not be taken: {error}"))
