"""jira_text: one text rendered as wiki markup (REST v2) or ADF (REST v3), with what a
form value may contain kept from breaking either format."""

from __future__ import annotations

from typing import Any

from loom.integrations.jira_text import Link, Paragraph, Table, form_rows, plain, render

BLOCKS = [
    Paragraph("Requested by Ada <ada@acme.test>."),
    Table(("Field", "Value"), [("name", "lb|1 [prod]"), ("notes", "line 1\nline 2"), ("x", "")]),
    Link("Loom request 7", "https://loom.acme.test/ui/requests/7"),
]


def test_wiki_markup_escapes_what_would_break_the_table() -> None:
    assert render(BLOCKS, "2") == (
        "Requested by Ada <ada@acme.test>.\n\n"
        "||Field||Value||\n"
        "|name|lb\\|1 \\[prod\\]|\n"
        "|notes|line 1 \\\\ line 2|\n"
        "|x|—|\n\n"
        "[Loom request 7|https://loom.acme.test/ui/requests/7]"
    )


def test_adf_is_a_document_with_a_table_and_a_link() -> None:
    document: Any = render(BLOCKS, "3")
    assert (document["type"], document["version"]) == ("doc", 1)
    paragraph, table, link = document["content"]
    assert paragraph == {
        "type": "paragraph",
        "content": [{"type": "text", "text": "Requested by Ada <ada@acme.test>."}],
    }
    header, name, notes, empty = table["content"]
    assert [cell["type"] for cell in header["content"]] == ["tableHeader", "tableHeader"]
    assert name["content"][1]["content"][0]["content"][0]["text"] == "lb|1 [prod]"
    assert notes["content"][1]["content"][0]["content"] == [
        {"type": "text", "text": "line 1"},
        {"type": "hardBreak"},
        {"type": "text", "text": "line 2"},
    ]
    assert empty["content"][1]["content"][0]["content"] == [{"type": "text", "text": "—"}]
    assert link["content"] == [
        {
            "type": "text",
            "text": "Loom request 7",
            "marks": [{"type": "link", "attrs": {"href": "https://loom.acme.test/ui/requests/7"}}],
        }
    ]


def test_written_text_is_kept_for_v2_and_split_into_paragraphs_for_v3() -> None:
    text = "Open 443.\nOn lb-1.\n\nThanks"
    assert plain(text, "2") == text
    document: Any = plain(text, "3")
    assert [p["content"][0]["text"] for p in document["content"]] == ["Open 443.", "Thanks"]
    assert document["content"][0]["content"][1] == {"type": "hardBreak"}


def test_form_rows_flatten_groups_and_read_values() -> None:
    values = {
        "name": "orders",
        "public": False,
        "zones": ["a", "b"],
        "owner": {"team": "db", "pager": None},
        "limits": [{"cpu": 2}],
    }
    assert form_rows(values) == [
        ("name", "orders"),
        ("public", "no"),
        ("zones", "a, b"),
        ("owner.team", "db"),
        ("owner.pager", "—"),
        ("limits", '[{"cpu": 2}]'),
    ]
