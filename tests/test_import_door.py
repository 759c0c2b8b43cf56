"""Every provider import goes through modules/aws.py, so a synth loads only the resource modules it uses
(the package __init__ alone imports ~2,200 of them; see `make bench` for the time this saves)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT

PROBE = """
import sys, tempfile
import main
from modules.config import load_config
from modules.synth_run import synthesize
from pathlib import Path
with tempfile.TemporaryDirectory() as out:
    synthesize(main.compose, load_config(Path('config/prod.toml')), Path(out) / 'cdktf.out')
package = sys.modules['cdktf_cdktf_provider_aws']
loaded = [m for m in sys.modules if m.startswith('cdktf_cdktf_provider_aws.') and m.count('.') == 1]
print(len(loaded), hasattr(package, '__all__'), 'cdk8s' in sys.modules)
"""


def test_a_full_synth_loads_only_the_provider_modules_it_uses():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    loaded, init_ran, cdk8s_loaded = proc.stdout.split()
    assert init_ran == "False", "the package __init__ of cdktf_cdktf_provider_aws ran"
    # cdk8s (and its jsii assembly) loads only for an environment on EKS: an ECS synth never pays for it.
    assert cdk8s_loaded == "False", "an ECS synth imported cdk8s"
    assert 10 < int(loaded) < 200, f"{loaded} provider modules loaded"


def test_no_code_imports_the_provider_package_around_the_door():
    pattern = re.compile(r"^\s*(from|import)\s+cdktf_cdktf_provider_aws", re.MULTILINE)
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("modules", "tools", "lambdas", "containers")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if path.name != "aws.py" and pattern.search(path.read_text())
    ]
    assert offenders == []
