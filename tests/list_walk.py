"""Helpers for the list tests: count a page's queries, and follow a list's "Next" links to its end."""

import re
from html import unescape

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

# The budget of a list page (issue 14): session, user, the layout's memberships, the rows, a count.
MAX_LIST_QUERIES = 6

NEXT_LINK = re.compile(r'<a href="([^"]*)" rel="next"')


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def page_queries(client, url) -> tuple[int, str]:
    """(queries, HTML) of one view of `url`, the per-process caches warmed by a first view."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


def walk(client, url, pattern: str) -> tuple[list[str], list[int]]:
    """Follow the "Next" links from `url`: every match of `pattern` (a regex with one group) on each
    page, in order, and the queries of each page."""
    found, queries = [], []
    path = url.split("?")[0]
    while url:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        queries.append(len(captured))
        html = response.content.decode()
        found.extend(re.findall(pattern, html))
        link = NEXT_LINK.search(html)
        url = path + unescape(link.group(1)) if link else ""
        assert len(queries) < 100, "the pages do not end"
    return found, queries
