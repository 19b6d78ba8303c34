"""Catalog load benchmark: generate a realistic large catalog (1,000 items, 100 bundles by
default) as YAML files in a temporary directory, then time `load_directory` (read, parse,
validate every document and rule, resolve owners) over several runs.

Target: under 1 s per load on the machine running Loom.

    .venv/bin/python benchmarks/catalog_load.py [--items 1000] [--bundles 100] [--runs 5]
        [--profile] [--keep DIR]

Items look like the sample catalog's: a form of ~9 fields (enum options with labels,
patterns, ranges, a group, visibleIf/requiredIf conditions with all/any/not) and 2-3
actions whose configs are templated (`.current`, `.output` of an earlier action,
`.metadata.<item>`, `.system`). Bundles have 3 components with templated inputs and
dependencies.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from loom.catalog.loader import load_directory, read_files
from loom.catalog.yaml_source import load_documents

TARGET_SECONDS = 1.0
CATEGORIES = [
    "databases",
    "kubernetes",
    "networking",
    "storage",
    "developer-tools",
    "messaging",
    "observability",
    "security",
    "compute",
    "data-platform",
]
TEAMS = ["platform", "data", "payments", "checkout", "search"]


def _item(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    category = CATEGORIES[i % len(CATEGORIES)]
    item_id = f"{category}-offering-{i:04d}"
    fields: list[dict[str, Any]] = [
        {
            "id": "name",
            "type": "string",
            "title": "Name",
            "help": "Lowercase letters, digits and dashes.",
            "required": True,
            "pattern": "^[a-z][a-z0-9-]*[a-z0-9]$",
            "minLength": 3,
            "maxLength": 40,
        },
        {
            "id": "environment",
            "type": "enum",
            "title": "Environment",
            "required": True,
            "default": "staging",
            "options": [
                {"value": "dev", "label": "Development"},
                {"value": "staging", "label": "Staging"},
                {"value": "production", "label": "Production"},
            ],
        },
        {
            "id": "size",
            "type": "enum",
            "title": "Size",
            "default": "small",
            "options": ["small", "medium", "large", "xlarge"],
        },
        {
            "id": "capacity",
            "type": "integer",
            "title": "Capacity",
            "default": 10 + i % 50,
            "min": 1,
            "max": 1000,
        },
        {
            "id": "high_availability",
            "type": "boolean",
            "title": "High availability",
            "default": False,
            "visibleIf": {"field": "environment", "notEquals": "dev"},
        },
        {
            "id": "replicas",
            "type": "integer",
            "title": "Replicas",
            "min": 0,
            "max": 5,
            "default": 1,
            "visibleIf": {
                "all": [
                    {"field": "environment", "equals": "production"},
                    {"field": "high_availability", "equals": True},
                ]
            },
        },
        {
            "id": "settings",
            "type": "group",
            "title": "Settings",
            "fields": [
                {
                    "id": "retention_days",
                    "type": "integer",
                    "default": 7,
                    "min": 1,
                    "max": 365,
                },
                {
                    "id": "window",
                    "type": "string",
                    "default": "03:00",
                    "pattern": r"^([01]\d|2[0-3]):[0-5]\d$",
                },
            ],
        },
        {
            "id": "contact",
            "type": "email",
            "title": "Contact",
            "required": True,
        },
        {
            "id": "justification",
            "type": "text",
            "title": "Justification",
            "maxLength": 2000,
            "requiredIf": {
                "any": [
                    {"field": "size", "in": ["large", "xlarge"]},
                    {"not": {"field": "environment", "notIn": ["production"]}},
                ]
            },
        },
    ]
    actions: list[dict[str, Any]] = [
        {
            "id": "provision",
            "type": "terraform-run",
            "config": {
                "workspace": "{{ .current.environment }}-{{ .current.name }}",
                "variables": {
                    "name": "{{ .current.name }}",
                    "size": "{{ .current.size }}",
                    "capacity": "{{ .current.capacity }}",
                    "replicas": "{{ .current.replicas }}",
                    "retention": "{{ .current.settings.retention_days }}",
                    "window": "{{ .current.settings.window }}",
                    "cost_center": f"{{{{ .metadata.{item_id}.custom.costCenter }}}}",
                    "requested_by": "{{ .system.user.email }}",
                },
            },
            "outputs": ["resource_id", "endpoint"],
        },
        {
            "id": "register",
            "type": "rest-api",
            "config": {
                "method": "POST",
                "url": f"https://registry.internal.example/api/v1/{category}",
                "headers": {"X-Correlation-ID": "{{ .system.correlationId }}"},
                "json": {
                    "id": "{{ .output.resource_id }}",
                    "endpoint": "{{ .output.endpoint }}",
                    "owner": f"{{{{ .metadata.{item_id}.owner }}}}",
                    "contact": "{{ .current.contact }}",
                },
                "outputMap": {"registration": "response.body.id"},
            },
            "outputs": ["registration"],
        },
    ]
    if i % 2:
        actions.append(
            {
                "id": "announce",
                "type": "jira-ticket",
                "config": {
                    "project": "OPS",
                    "summary": "{{ .current.name }} ready ({{ .output.registration }})",
                    "description": "Justification: {{ .current.justification }}",
                    "waitFor": "created",
                },
            }
        )
    document = {
        "apiVersion": "loom/v1",
        "kind": "CatalogItem",
        "metadata": {
            "id": item_id,
            "name": f"{category.replace('-', ' ').title()} offering {i}",
            "description": "A generated offering, shaped like the sample catalog's items. " * 3,
            "category": category,
            "version": f"1.{i % 10}.{rng.randint(0, 9)}",
            **({"owner": rng.choice(TEAMS)} if i % 3 == 0 else {}),
            "tags": [category, "generated", f"tier-{i % 3}"],
            "links": [{"title": "Runbook", "url": f"https://runbooks.internal.example/{item_id}"}],
            "custom": {"costCenter": f"CC-{1000 + i}", "tier": ["gold", "silver"][i % 2]},
        },
        "spec": {"form": {"fields": fields}, "fulfillment": {"actions": actions}},
    }
    return f"catalog/{category}/{item_id}.yaml", document


def _bundle(b: int, item_ids: list[str], rng: random.Random) -> tuple[str, dict[str, Any]]:
    picked = rng.sample(item_ids, 3)
    components = []
    for n, item_id in enumerate(picked):
        components.append(
            {
                "id": f"part{n}",
                "item": item_id,
                "inputs": {
                    "name": "{{ .current.service_name }}",
                    "environment": "{{ .current.environment }}",
                    "contact": "{{ .current.contact }}",
                    "capacity": 20,
                },
                **({"dependsOn": [f"part{n - 1}"]} if n else {}),
            }
        )
    document = {
        "apiVersion": "loom/v1",
        "kind": "CatalogBundle",
        "metadata": {
            "id": f"bundle-{b:03d}",
            "name": f"Starter kit {b}",
            "category": "starter-kits",
            "tags": ["generated"],
        },
        "spec": {
            "form": {
                "fields": [
                    {
                        "id": "service_name",
                        "type": "string",
                        "required": True,
                        "pattern": "^[a-z][a-z0-9-]*[a-z0-9]$",
                    },
                    {
                        "id": "environment",
                        "type": "enum",
                        "default": "staging",
                        "options": ["dev", "staging", "production"],
                    },
                    {"id": "contact", "type": "email", "required": True},
                ]
            },
            "components": components,
        },
    }
    return f"bundles/bundle-{b:03d}.yaml", document


def generate(root: Path, items: int, bundles: int, seed: int = 42) -> tuple[int, int]:
    """Write the catalog under `root`; (files, bytes) written."""
    rng = random.Random(seed)
    written = 0
    item_ids: list[str] = []
    docs = []
    for i in range(items):
        path, doc = _item(i, rng)
        item_ids.append(doc["metadata"]["id"])
        docs.append((path, doc))
    for b in range(bundles):
        docs.append(_bundle(b, item_ids, rng))
    for path, doc in docs:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        text = f"# generated by benchmarks/catalog_load.py\n{yaml.safe_dump(doc, sort_keys=False)}"
        target.write_text(text, encoding="utf-8")
        written += len(text.encode())
    codeowners = ["* @acme/platform"] + [
        f"/catalog/{c}/ @acme/{TEAMS[n % len(TEAMS)]}" for n, c in enumerate(CATEGORIES)
    ]
    (root / "CODEOWNERS").write_text("\n".join(codeowners) + "\n", encoding="utf-8")
    return len(docs), written


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    physical = psutil.cpu_count(logical=False)
    logical = os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {physical or '?'} cores / {logical} threads, "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}, "
        f"load average {load}"
    )


def phases(root: Path, runs: int) -> dict[str, float]:
    """Median time of reading the files, of parsing their YAML alone (no validation), and
    of working out the line of every path of every document: the loader does that only
    for a document with a problem, to report where it is."""
    read: list[float] = []
    parse: list[float] = []
    lines: list[float] = []
    gc.disable()  # as load_files does while it loads
    for _ in range(runs):
        started = time.perf_counter()
        files = read_files(root)
        read.append(time.perf_counter() - started)
        texts = [c.decode() if isinstance(c, bytes) else c for _path, c in files]
        started = time.perf_counter()
        documents = [document for text in texts for document in load_documents(text)]
        parse.append(time.perf_counter() - started)
        started = time.perf_counter()
        for document in documents:
            document.line_of(())
        lines.append(time.perf_counter() - started)
    gc.enable()
    return {
        "read files": statistics.median(read),
        "parse YAML": statistics.median(parse),
        "lines": statistics.median(lines),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--bundles", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one extra load")
    parser.add_argument("--keep", type=Path, help="write the catalog here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="loom-catalog-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        files, size = generate(root, args.items, args.bundles)
        mb = size / 1e6
        print(f"catalog: {args.items} items + {args.bundles} bundles, {files} files, {mb:.1f} MB")
        print(f"machine: {machine()}")

        timings: list[float] = []
        cpu: list[float] = []  # this process's CPU time: what other work on the machine moves less
        for run in range(args.runs + 1):  # run 0 warms imports and the OS file cache
            started, cpu_started = time.perf_counter(), time.process_time()
            catalog = load_directory(root)
            elapsed = time.perf_counter() - started
            cpu_elapsed = time.process_time() - cpu_started
            if catalog.problems:
                for problem in catalog.problems[:10]:
                    print(f"  problem: {problem}", file=sys.stderr)
                print(f"{len(catalog.problems)} problems: the generator is wrong", file=sys.stderr)
                return 2
            if len(catalog.items) != args.items or len(catalog.bundles) != args.bundles:
                print("not every document was loaded", file=sys.stderr)
                return 2
            if run:
                timings.append(elapsed)
                cpu.append(cpu_elapsed)

        median = statistics.median(timings)
        print(
            f"load_directory (read + parse + validate), {args.runs} runs: "
            f"median {median:.3f} s, min {min(timings):.3f} s, max {max(timings):.3f} s "
            f"(CPU time: median {statistics.median(cpu):.3f} s, min {min(cpu):.3f} s)"
        )
        per_doc = median / files * 1000
        verdict = "OK" if median < TARGET_SECONDS else "MISSED"
        print(f"per document: {per_doc:.2f} ms; target < {TARGET_SECONDS:.1f} s: {verdict}")
        split = phases(root, args.runs)
        lines = split.pop("lines")
        rest = median - sum(split.values())
        print(
            "phases (medians): "
            + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in split.items())
            + f", models + rules + owners ~{max(rest, 0):.3f} s"
        )
        print(
            f"not in the load above (no document has a problem): the lines of every path "
            f"of every document, read again for documents with problems, {lines:.3f} s"
        )
        print(f"machine after the runs: {machine()}")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            load_directory(root)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            print(out.getvalue())
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
