"""Regenerate tests/fixtures/optimizer_golden.json (review the diff before committing!).

python -m tests.core.optimize.make_golden
"""

import json

from tests.core.optimize.profiles import MODEL_SETS, PROFILES, model
from tests.fakes import FIXTURES
from velollm_desktop.core.optimize.recommend import as_json_summary, recommend_fit


def compute() -> dict:
    out = {}
    for pname, spec in PROFILES.items():
        for mset, names in MODEL_SETS.items():
            s = as_json_summary(recommend_fit(spec, [model(n) for n in names], "0.33.0"))
            out[f"{pname}/{mset}"] = {
                "env": s["env"],
                "models": {
                    k: {kk: v[kk] for kk in ("num_ctx", "parallel", "fits_on_gpu", "vram_bytes")}
                    | ({"options": v["options"]} if "options" in v else {})
                    for k, v in s["models"].items()
                },
            }
    return out


if __name__ == "__main__":
    (FIXTURES / "optimizer_golden.json").write_text(
        json.dumps(compute(), indent=1, sort_keys=True) + "\n"
    )
