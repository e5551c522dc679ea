#!/usr/bin/env python3
"""Fills docs/results.md from the template, the evaluation report folders and the training run folders.
usage: fill_results.py TEMPLATE EVAL_DIR MOBILENET_EVAL_DIR OUT extra.json RUN_DIR..."""
import json, os, re, subprocess, sys

tpl, ev, mev, out, extra = sys.argv[1:6]
runs = sys.argv[6:]
t = open(tpl).read()
rep = open(os.path.join(ev, "report.md")).read()
mrep = open(os.path.join(mev, "report.md")).read()
x = json.load(open(extra))

def section(text, start, end):
    s = text.index(start)
    e = text.index(end, s + len(start))
    return text[s + len(start):e].strip()

half = section(rep, "## At threshold 0.5 (the paper's table)", "## At the threshold chosen")
chosen = section(rep, "for sensitivity >= 0.95", "## Per data source")
per_source = section(rep, "## Per data source (threshold 0.5)", "## Plots")
m_half = section(mrep, "## At threshold 0.5 (the paper's table)", "## At the threshold chosen")
m_chosen = section(mrep, "for sensitivity >= 0.95", "## Per data source")
m_source = section(mrep, "## Per data source (threshold 0.5)", "## Plots")
m_source = "\n".join(l for l in m_source.splitlines() if l.startswith("|"))
training = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "summarize.py")] + runs,
                          capture_output=True, text=True, check=True).stdout.strip()
mobilenet = ("Same split, same preset, same 4-minute budget, 128 px; `--init imagenet:...` loads the TFLite "
             "embedding extractor's backbone (uint8, batch norm folded) through `TfliteMobileNetImporter` and "
             "calibrates the batch norms on 64 training images; the 2-class head starts random.\n\n"
             "```\n" + x["mobilenet_eval_command"] + "\n```\n\nThreshold 0.5:\n\n" + m_half +
             "\n\nThreshold chosen on validation (sensitivity >= 0.95):\n\n" + m_chosen +
             "\n\nPer source:\n\n" + m_source + "\n\n" + x["mobilenet_comment"])
for k, v in {
    "TABLE_HALF": half, "TABLE_CHOSEN": chosen, "PER_SOURCE": per_source, "TRAINING": training,
    "MOBILENET_COMPARISON": mobilenet, **{k2.upper(): v2 for k2, v2 in x.items() if k2.upper() in t}}.items():
    t = t.replace("{{" + k + "}}", v)
left = re.findall(r"\{\{[A-Z_]+\}\}", t)
if left:
    print("unfilled:", left, file=sys.stderr)
open(out, "w").write(t)
