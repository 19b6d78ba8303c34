"""The catalog: platform offerings as versioned YAML documents in git."""

from loom.provisioning.templating import install as _install_template_engine

_install_template_engine()  # templates are checked by the variable engine, offline too
