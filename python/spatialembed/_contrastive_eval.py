"""Evaluation protocols of the contrastive image–gene models, on embeddings (arrays).

- expression prediction scored by per-gene Pearson r on a held-out section, averaged over
  gene lists (BLEEP; Xie et al. 2023): by retrieval (``spatialembed.contrastive
  .predict_expression``) and by ridge regression on the embeddings;
- linear probing: logistic regression, five random 80/10/10 splits, macro-F1 on the test
  part (STimage-1K4M, Chen et al. 2024);
- clustering of the embeddings (k-means, HDBSCAN) scored by ARI / NMI against labels and by
  the silhouette coefficient.

Used by ``ContrastiveTrainer.evaluate``; plain NumPy / scikit-learn, no LibTorch.
"""
import numpy as np

PROBE_C = (0.01, 0.1, 1.0, 10.0)  # LogisticRegression C chosen on the 10 % validation part
RIDGE_ALPHAS = tuple(10.0 ** np.arange(-1, 6))  # RidgeCV (leave-one-out on the reference spots)


def gene_means(r, gene_lists):
    """{list name: mean of the finite r over its genes (NaN when none)} for index lists."""
    out = {}
    for name, index in gene_lists.items():
        values = np.asarray(r, dtype=np.float64)[np.asarray(index, dtype=np.int64)]
        values = values[np.isfinite(values)]
        out[name] = float(values.mean()) if values.size else float("nan")
    return out


def pearson_columns(predicted, measured):
    """Pearson r of each column (float64); NaN for a column constant in either."""
    p = np.asarray(predicted, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    p = p - p.mean(axis=0)
    m = m - m.mean(axis=0)
    denom = np.sqrt((p * p).sum(axis=0) * (m * m).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * m).sum(axis=0) / denom
    r[denom == 0] = np.nan
    return r


def ridge_predict(train_x, train_y, query_x, alphas=RIDGE_ALPHAS):
    """Standardised embeddings → RidgeCV (alpha by efficient leave-one-out over ``alphas``)
    fitted on the reference spots, applied to the query spots. Returns (prediction, alpha)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    model = RidgeCV(alphas=np.asarray(alphas, dtype=np.float64)).fit(scaler.transform(train_x), train_y)
    return model.predict(scaler.transform(query_x)).astype(np.float32), float(model.alpha_)


def linear_probe(x, labels, n_splits=5, random_state=0, c_grid=PROBE_C):
    """STimage-1K4M's linear probing: for each of ``n_splits`` random permutations, 80 % train,
    10 % validation (chooses C), 10 % test; standardised embeddings, LogisticRegression;
    macro-F1 on the test part. Returns the list of per-split scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    n = len(labels)
    scores = []
    for split in range(n_splits):
        order = np.random.RandomState(random_state + split).permutation(n)
        n_train, n_val = int(round(0.8 * n)), int(round(0.1 * n))
        tr, va, te = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
        if len(np.unique(labels[tr])) < 2 or len(te) == 0:
            continue
        scaler = StandardScaler().fit(x[tr])
        best, best_f1 = None, -1.0
        for c in c_grid:
            model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x[tr]), labels[tr])
            f1 = f1_score(labels[va], model.predict(scaler.transform(x[va])), average="macro") if len(va) else 0.0
            if f1 > best_f1:
                best, best_f1 = model, f1
        scores.append(float(f1_score(labels[te], best.predict(scaler.transform(x[te])), average="macro")))
    return scores


def cluster_scores(x, labels, n_clusters, random_state=0, min_cluster_size=None):
    """k-means (scikit-learn, ``n_clusters``) and HDBSCAN (spatialembed) of the embeddings.
    Returns {method: {"ARI", "NMI", "silhouette", "n_clusters"}}; ARI / NMI need labels (NaN
    without); HDBSCAN noise counts as one more cluster for ARI / NMI and is left out of the
    silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    from .cluster import HDBSCAN

    x = np.ascontiguousarray(x, dtype=np.float32)
    out = {}
    kmeans = KMeans(n_clusters=int(n_clusters), n_init=10, random_state=random_state).fit_predict(x)
    size = int(min_cluster_size) if min_cluster_size else max(5, len(x) // 40)
    hdbscan = HDBSCAN(min_cluster_size=size).fit_predict(x)
    for name, assignment in (("kmeans", kmeans), ("hdbscan", hdbscan)):
        keep = assignment >= 0
        clusters = np.unique(assignment[keep])
        row = {"n_clusters": float(len(clusters))}
        row["silhouette"] = (float(silhouette_score(x[keep], assignment[keep]))
                             if 2 <= len(clusters) < keep.sum() else float("nan"))
        if labels is not None:
            row["ARI"] = float(adjusted_rand_score(labels, assignment))
            row["NMI"] = float(normalized_mutual_info_score(labels, assignment))
        else:
            row["ARI"] = row["NMI"] = float("nan")
        out[name] = row
    return out
