"""A straightforward HDBSCAN* written from the definitions, for the tests and the benchmark.

Campello, Moulavi & Sander (PAKDD 2013) and McInnes & Healy (ICDMW 2017), with the
flat-clustering rules of scikit-learn 1.3's ``sklearn.cluster.HDBSCAN`` and the tie-breaking
spatialembed documents (cluster/hdbscan.hpp):

1. core distance of a point = distance to its ``min_samples``-th nearest point, itself first;
2. mutual reachability = max(core_a, core_b, d(a, b) / alpha), a dense n x n matrix;
3. minimum spanning tree by Kruskal over all pairs, taken in the order
   (mutual reachability, lower index, higher index); the accepted edges, in that order,
   are the single-linkage merges (left = the side of the lower index);
4. condensed tree: walk the single-linkage tree from the root, breadth first; a split into
   two parts of >= min_cluster_size points makes two new clusters, a smaller part's points
   leave the cluster at lambda = 1 / distance;
5. stability of a cluster = sum over its rows of (lambda - lambda_birth) * size;
6. excess of mass: a cluster is kept over its descendants when its stability is at least
   the sum of theirs (best choices below) and it is not larger than max_cluster_size;
   leaf: the clusters without child clusters; cluster_selection_epsilon replaces a
   selected cluster born below epsilon by its lowest ancestor born above it;
7. labels: the nearest selected ancestor, clusters numbered by increasing node id;
   probability = min(lambda_point, lambda_max(cluster)) / lambda_max(cluster).

O(n^2) memory and Python loops: for a few hundred points.
"""
from collections import deque

import numpy as np


def reference_hdbscan(X, min_cluster_size=5, min_samples=None, cluster_selection_epsilon=0.0, max_cluster_size=None,
                      cluster_selection_method="eom", allow_single_cluster=False, alpha=1.0):
    """Returns a dict: labels, probabilities, condensed (list of rows), linkage, core."""
    X = np.asarray(X, dtype=np.float32).astype(np.float64)
    n, d = X.shape
    k = min_cluster_size if min_samples is None else min_samples
    eps = float(cluster_selection_epsilon)

    # 1-2. distances in float64, summed dimension by dimension; core distances; reachability.
    squared = np.zeros((n, n))
    for j in range(d):
        diff = X[:, None, j] - X[None, :, j]
        squared += diff * diff
    dist = np.sqrt(squared)
    core = np.sort(dist, axis=1)[:, k - 1]
    reach = np.maximum(np.maximum(core[:, None], core[None, :]), dist / alpha)

    # 3. Kruskal in the total order; each accepted edge is a merge of the single-linkage tree.
    a, b = np.triu_indices(n, 1)
    weight = reach[a, b]
    parent = list(range(n))
    node = list(range(n))
    size = [1] * n

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    linkage = []
    for e in np.lexsort((b, a, weight)):
        ra, rb = find(a[e]), find(b[e])
        if ra == rb:
            continue
        linkage.append((node[ra], node[rb], float(weight[e]), size[ra] + size[rb]))
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        node[ra] = n + len(linkage) - 1
        if len(linkage) == n - 1:
            break

    # 4. condensed tree.
    def count(v):
        return 1 if v < n else linkage[v - n][3]

    def points_under(v):  # breadth first
        out, queue = [], deque([v])
        while queue:
            u = queue.popleft()
            if u < n:
                out.append(u)
            else:
                queue.extend(linkage[u - n][:2])
        return out

    rows = []
    root = n
    cluster_of = {2 * n - 2: root}
    next_id = n + 1
    queue = deque([2 * n - 2])
    while queue:
        v = queue.popleft()
        left, right, distance, _ = linkage[v - n]
        lam = 1.0 / distance if distance > 0 else np.inf
        c = cluster_of[v]
        big = [count(u) >= min_cluster_size for u in (left, right)]
        for u, is_big in zip((left, right), big):
            if all(big):
                cluster_of[u] = next_id
                rows.append((c, next_id, lam, count(u)))
                next_id += 1
            elif is_big:
                cluster_of[u] = c
            else:
                rows.extend((c, p, lam, 1) for p in points_under(u))
        queue.extend(u for u, is_big in zip((left, right), big) if is_big and u >= n)

    clusters = range(root, next_id)
    birth = {root: 0.0}
    parent_of, children = {}, {c: [] for c in clusters}
    size_of = {}
    for p, c, lam, s in rows:
        if c >= n:
            birth[c], parent_of[c], size_of[c] = lam, p, s
            children[p].append(c)
    size_of[root] = sum(size_of[c] for c in children[root])  # scikit-learn's root size

    # 5. stability, summed in row order.
    stability = {c: 0.0 for c in clusters}
    for p, c, lam, s in rows:
        stability[p] += (lam - birth[p]) * s

    # 6. selection.
    limit = n + 1 if not max_cluster_size else max_cluster_size

    def excess_of_mass(c):
        total, chosen = 0.0, []
        for child in children[c]:
            s, sel = excess_of_mass(child)
            total += s
            chosen += sel
        if (c == root and not allow_single_cluster) or total > stability[c] or size_of[c] > limit:
            return total, chosen
        return stability[c], [c]

    def descendants(c):
        out = []
        for child in children[c]:
            out += [child] + descendants(child)
        return out

    def lowest_ancestor_above_eps(leaf):
        while True:
            up = parent_of[leaf]
            if up == root:
                return root if allow_single_cluster else leaf
            if 1.0 / birth[up] > eps:
                return up
            leaf = up

    def epsilon_search(leaves):
        selected, processed = [], set()
        for leaf in sorted(leaves):
            if 1.0 / birth[leaf] < eps:
                if leaf in processed:
                    continue
                up = lowest_ancestor_above_eps(leaf)
                selected.append(up)
                processed.update(descendants(up))
            else:
                selected.append(leaf)
        return selected

    has_cluster_rows = next_id > n + 1
    if cluster_selection_method == "eom":
        selected = excess_of_mass(root)[1]
        if eps != 0.0 and has_cluster_rows:
            if selected == [root]:
                selected = selected if allow_single_cluster else []
            else:
                selected = epsilon_search(selected)
    else:
        leaves = [c for c in clusters if c != root and not children[c]] if has_cluster_rows else []
        selected = epsilon_search(leaves) if eps != 0.0 else leaves
    selected = sorted({c for c in selected if c != root or allow_single_cluster})

    # 7. labels and probabilities.
    number = {c: i for i, c in enumerate(selected)}
    death = {c: max([lam for p, _, lam, _ in rows if p == c], default=0.0) for c in clusters}
    single_root = selected == [root] and allow_single_cluster
    if single_root:
        threshold = 1.0 / eps if eps != 0.0 else max(lam for p, _, lam, _ in rows if p == root)
    labels = np.full(n, -1, dtype=np.int32)
    probabilities = np.zeros(n)
    for p, child, lam, _ in rows:
        if child >= n:
            continue
        c = p
        while c not in number and c != root:
            c = parent_of[c]
        if c != root:
            labels[child] = number[c]
        elif single_root and lam >= threshold:
            labels[child] = number[root]
        else:
            continue
        top = death[c]
        probabilities[child] = 1.0 if top == 0.0 or np.isinf(lam) else min(lam, top) / top
    return {"labels": labels, "probabilities": probabilities, "condensed": rows, "linkage": linkage, "core": core,
            "cluster_nodes": selected}
