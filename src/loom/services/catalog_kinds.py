"""The service registry's document kinds in the catalog repository: `kind: Service` in
`services/` and `kind: ScorecardRule` in `scorecards/`. Importing this module registers
them with the catalog (which never imports the registry); `loom.app` does so."""

from __future__ import annotations

from loom.catalog.extensions import DocumentKind, register
from loom.services.document_sync import apply_services
from loom.services.documents import ServiceDocument, document_findings
from loom.services.scorecard_rules import ScorecardRuleDocument, rule_findings
from loom.services.scorecard_store import apply_rules

SERVICE = register(
    DocumentKind("Service", "services", ServiceDocument, apply_services, document_findings)
)
SCORECARD_RULE = register(
    DocumentKind("ScorecardRule", "scorecards", ScorecardRuleDocument, apply_rules, rule_findings)
)
