#!/usr/bin/env python3
"""Prints a Markdown table of training runs (run.json + state.json of each run folder given)."""
import json, sys, os, datetime
IDS = {"MOBILENET": "mobilenet", "RESNET50": "resnet50", "INCEPTION_V3": "inceptionv3", "XCEPTION": "xception"}

print("| run | network | input | preset | init | epochs run (best) | images trained | train time | img/s | stopped by | wall time (train + validation) | validation loss / acc / AUC per epoch |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for d in sys.argv[1:]:
    info = json.load(open(os.path.join(d, "run.json")))
    st = json.load(open(os.path.join(d, "state.json")))
    o = info["options"]
    ips = st["trainImages"] / st["trainSeconds"] if st["trainSeconds"] else 0
    why = "time budget" if st.get("stoppedByTimeBudget") else "early stopping" if st.get("stoppedEarly") else "epochs"
    hist = "; ".join("e%d %.3f / %.3f / %.3f" % (h["epoch"], h["validationLoss"], h["validationAccuracy"], h["validationAuc"])
                     for h in st["history"])
    start = datetime.datetime.fromisoformat(info["createdAt"].replace("Z", "+00:00")).timestamp()
    wall = (os.path.getmtime(os.path.join(d, "validation-predictions.csv")) - start) / 60
    print("| %s | %s | %d | %s | %s | %d (%d) | %d | %.1f min | %.1f | %s | %.1f min | %s |" % (
        os.path.basename(d.rstrip("/")), IDS.get(o["architecture"], o["architecture"]), o["inputSize"], o["preset"],
        "ImageNet" if o["init"].startswith("imagenet:") else "scratch", st["completedEpochs"], st["bestEpoch"],
        st["trainImages"], st["trainSeconds"] / 60, ips, why, wall, hist))
