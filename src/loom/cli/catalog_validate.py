"""`loom catalog validate PATH`: validate a catalog checkout (or one YAML file) offline,
with no server, login or settings, for platform teams' own CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loom.cli.output import OutputFormat, OutputOption, console, emit, fail, plural

if TYPE_CHECKING:
    from loom.catalog.loader import LoadedCatalog


def validate(
    path: Annotated[
        Path,
        typer.Argument(
            help="A catalog checkout (with catalog/ and bundles/) or one YAML file",
            show_default=False,
        ),
    ],
    output: OutputOption = OutputFormat.table,
) -> None:
    """Validate catalog documents OFFLINE (no server, no login): print every problem as
    `file:line path: message`; exit 1 when there is any. For platform teams' CI."""
    loaded = _load(path)
    problems = [
        {
            "file": p.file,
            "line": p.line,
            "path": p.path,
            "message": p.message,
            "document_id": p.document_id,
            "text": str(p),
        }
        for p in loaded.problems
    ]
    ok = not problems
    if output is OutputFormat.json:
        result = {
            "ok": ok,
            "items": sorted(loaded.items),
            "bundles": sorted(loaded.bundles),
            "problems": problems,
        }
        emit(result, output)
    else:
        for problem in problems:
            typer.echo(problem["text"])
        counts = (
            f"{plural(len(loaded.items), 'item')}, {plural(len(loaded.bundles), 'bundle')}, "
            f"{plural(len(problems), 'problem')}"
        )
        verdict = "[green]catalog ok[/green]" if ok else "[red]catalog INVALID[/red]"
        console.print(f"{verdict}: {counts}", soft_wrap=True, highlight=False)
    if not ok:
        raise typer.Exit(1)


def _load(path: Path) -> LoadedCatalog:
    """Load a directory as a checkout, or one file as catalog/<name> of an otherwise empty
    catalog. Reads files only: no settings, database or network."""
    from loom.catalog.loader import (
        DOCUMENT_DIRS,
        LoadedCatalog,
        Problem,
        load_directory,
        load_files,
    )
    from loom.services import catalog_kinds  # noqa: F401  (services/ and scorecards/ too)

    if path.is_dir():
        try:
            loaded = load_directory(path)
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the catalog in {path}: {exc}")
        if loaded.files == 0:
            where = " or ".join(f"{path / d}/" for d in DOCUMENT_DIRS)
            fail(f"no *.yaml or *.yml documents under {where}: give a catalog checkout's root")
        return loaded
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        fail(f"no such file or directory: {path}")
    except OSError as exc:
        fail(f"cannot read {path}: {exc}")
    name = f"catalog/{path.name}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return LoadedCatalog(problems=[Problem(name, 1, "", "not UTF-8 text")], files=1)
    return load_files([(name, text)])
