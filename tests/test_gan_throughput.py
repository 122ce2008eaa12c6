"""benchmarks/gan_throughput.py: the settings it times on a GPU, and the fastest one's zoo train flags."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_throughput  # noqa: E402


def record(*rows: tuple[str, bool, bool, float]) -> dict:
    return {"results": [{"method": m, "bf16": bf16, "channels_last": cl, "steps_per_s": v} for m, bf16, cl, v in rows]}


def test_the_fastest_setting_of_each_method_gives_its_flags() -> None:
    rec = record(("dcgan", False, False, 123.8), ("dcgan", True, False, 105.4), ("dcgan", True, True, 240.0), ("dcgan", False, True, 150.0),
                 ("wgan_gp", False, False, 74.3), ("wgan_gp", True, False, 61.2), ("wgan_gp", False, True, 80.0))
    assert gan_throughput.fastest_flags(rec, "dcgan") == "--bf16 --channels-last"
    assert gan_throughput.fastest_flags(rec, "wgan_gp") == "--channels-last"
    # the H200 record of 2026-11-30 timed NCHW alone, without the key: float32 won
    kept = json.loads((Path(__file__).parents[1] / "benchmarks/results/gan_throughput_h200_2026-11-30.json").read_text())
    assert gan_throughput.fastest_flags(kept, "dcgan") == "" and gan_throughput.fastest_flags(kept, "wgan_gp") == ""
    assert gan_throughput.GPU_SETTINGS == [(False, False), (True, False), (False, True), (True, True)]


def test_flags_for_prints_them_or_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps(record(("dcgan", True, True, 9.0), ("dcgan", False, False, 8.0))))
    monkeypatch.setattr(sys, "argv", ["gan_throughput.py", "--flags-for", "dcgan", "--record", str(f)])
    assert gan_throughput.main() == 0 and capsys.readouterr().out == "--bf16 --channels-last\n"
    monkeypatch.setattr(sys, "argv", ["gan_throughput.py", "--flags-for", "wgan_gp", "--record", str(f)])
    assert gan_throughput.main() == 1 and "times no 'wgan_gp' train step" in capsys.readouterr().err
    f.write_text(json.dumps([{"what": "train_step", "method": "dcgan"}]))  # a `zoo bench --out` list, not this benchmark's record
    monkeypatch.setattr(sys, "argv", ["gan_throughput.py", "--flags-for", "dcgan", "--record", str(f)])
    assert gan_throughput.main() == 1 and "not a gan_throughput record" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["gan_throughput.py", "--flags-for", "dcgan", "--record", str(tmp_path / "none.json")])
    assert gan_throughput.main() == 1 and "none.json" in capsys.readouterr().err
