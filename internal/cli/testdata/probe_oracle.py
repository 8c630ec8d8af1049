"""Oracle for gozoo run's probes: scikit-learn's LogisticRegression with the
same regularization values, and a numpy cosine knn, on the same feature
rows and splits as a run folder's splits.json.

usage: probe_oracle.py RUN_DIR   (prints JSON)
"""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

run = sys.argv[1]
splits = json.load(open(run + "/splits.json"))
metrics = json.load(open(run + "/metrics.json"))
feats, labels = [], None
for path in splits["features"]:
    z = np.load(path)
    f = z["features"].astype(np.float64)
    feats.append(f.reshape(f.shape[0], -1))
    labels = z["label"]
X = np.concatenate(feats, axis=1)
ids = splits["label_ids"]
y = np.array([ids.index(int(l)) for l in labels])
tr, va, te = (np.array(splits[k]) for k in ("train", "val", "test"))
trva = np.sort(np.concatenate([tr, va]))

cs = [p["c"] for p in metrics["logreg"]["sweep"]]
sc = StandardScaler().fit(X[tr])
val_acc = []
for c in cs:
    m = LogisticRegression(C=c, max_iter=10000, tol=1e-10).fit(sc.transform(X[tr]), y[tr])
    val_acc.append(float((m.predict(sc.transform(X[va])) == y[va]).mean()))
best = cs[int(np.argmax(val_acc))]
sc = StandardScaler().fit(X[trva])
m = LogisticRegression(C=best, max_iter=10000, tol=1e-10).fit(sc.transform(X[trva]), y[trva])
top1 = float((m.predict(sc.transform(X[te])) == y[te]).mean())

k = metrics["knn"]["k"]
A = X[trva] / np.linalg.norm(X[trva], axis=1, keepdims=True)
B = X[te] / np.linalg.norm(X[te], axis=1, keepdims=True)
order = np.argsort(-(B @ A.T), axis=1, kind="stable")[:, :k]
votes = np.stack([np.bincount(y[trva][o], minlength=len(ids)) for o in order])
knn = votes.argmax(axis=1)

print(json.dumps({"top1": top1, "c": best, "val_acc": val_acc, "cs": cs,
                  "knn_pred": knn.tolist(), "knn_top1": float((knn == y[te]).mean())}))
