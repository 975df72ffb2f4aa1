"""spatialembed.UMAP step by step against umap-learn's own functions, and end to end."""
import pickle

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_digits, load_iris
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import spatialembed
from spatialembed import _core

umap_ = pytest.importorskip("umap.umap_")


def mixture(n, d, centres=8, seed=0, spread=4.0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centres, d)) * spread
    return (C[rng.integers(0, centres, n)] + rng.normal(size=(n, d))).astype(np.float32)


@pytest.fixture(scope="module")
def small_knn():
    X = mixture(300, 6, seed=1)
    indices, dists = spatialembed.nearest_neighbors(X, 15)
    return X, indices, dists


@pytest.mark.parametrize("local_connectivity", [1.0, 1.5, 0.5])
def test_smooth_knn_dist_equals_umap_learn(small_knn, local_connectivity):
    X, indices, dists = small_knn
    sigmas, rhos = _core.smooth_knn_dist(indices, dists, 15.0, local_connectivity)
    ref_sigmas, ref_rhos = umap_.smooth_knn_dist(dists, 15.0, local_connectivity=local_connectivity)
    np.testing.assert_allclose(rhos, ref_rhos, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sigmas, ref_sigmas, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mix", [1.0, 0.5, 0.0])
def test_fuzzy_graph_equals_umap_learn(small_knn, mix):
    X, indices, dists = small_knn
    indptr, cols, data, shape = _core.fuzzy_simplicial_set(indices, dists, mix, 1.0)
    ours = scipy.sparse.csr_matrix((data, cols, indptr), shape=shape).toarray()
    ref, _, _ = umap_.fuzzy_simplicial_set(X, 15, np.random.RandomState(0), "euclidean",
                                           knn_indices=indices.astype(np.int64), knn_dists=dists,
                                           set_op_mix_ratio=mix)
    np.testing.assert_allclose(ours, ref.toarray(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours, ours.T, atol=1e-7)


@pytest.mark.parametrize("mix_weight", [0.5, 0.25, 0.8])
def test_fuzzy_set_intersection_equals_umap_learn(mix_weight):
    # Two views of one set of points, as umap-learn's model_a * model_b intersects their graphs.
    rng = np.random.default_rng(3)
    A = mixture(150, 5, seed=3)
    B = (A[:, :2] + rng.normal(size=(150, 2)) * 2).astype(np.float32)
    graphs = []
    for X in (A, B):
        g, _, _ = umap_.fuzzy_simplicial_set(X, 15, np.random.RandomState(0), "euclidean")
        g = g.tocsr().astype(np.float32)
        g.sort_indices()
        graphs.append(g)
    ref = umap_.reset_local_connectivity(umap_.general_simplicial_set_intersection(*graphs, mix_weight), True)
    left, right = graphs
    indptr, cols, data, shape = _core.fuzzy_set_intersection(
        left.indptr.astype(np.int64), left.indices, left.data, right.indptr.astype(np.int64), right.indices,
        right.data, 150, mix_weight, 15.0)
    ours = scipy.sparse.csr_matrix((data, cols, indptr), shape=shape).toarray()
    np.testing.assert_allclose(ours, ref.toarray(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(ours, left.toarray(), atol=1e-3)


@pytest.mark.parametrize("spread, min_dist", [(1.0, 0.1), (1.0, 0.0), (1.0, 0.5), (2.0, 0.3), (0.5, 0.05), (1.0, 1.0)])
def test_find_ab_params_equals_umap_learn(spread, min_dist):
    np.testing.assert_allclose(_core.find_ab_params(spread, min_dist), umap_.find_ab_params(spread, min_dist), rtol=1e-4)


def test_exact_neighbours_equal_sklearn():
    from sklearn.neighbors import NearestNeighbors
    X = mixture(500, 20, seed=2)
    for metric in ("euclidean", "cosine", "correlation", "manhattan"):
        indices, dists = spatialembed.nearest_neighbors(X, 10, metric=metric)
        ref_d, ref_i = NearestNeighbors(n_neighbors=10, metric=metric, algorithm="brute").fit(X).kneighbors(X)
        assert (indices[:, 0] == np.arange(len(X))).all()
        np.testing.assert_allclose(dists, ref_d, rtol=1e-4, atol=1e-4)
        assert spatialembed.knn_recall(indices, ref_i) > 0.999


def test_nn_descent_recall_and_determinism():
    X = mixture(20000, 50, centres=20, seed=3)
    exact, _ = spatialembed.nearest_neighbors(X, 15, method="exact")
    approx, _ = spatialembed.nearest_neighbors(X, 15, method="nn_descent", random_state=7, n_jobs=2)
    assert spatialembed.knn_recall(approx, exact) >= 0.95
    again, _ = spatialembed.nearest_neighbors(X, 15, method="nn_descent", random_state=7, n_jobs=1)
    np.testing.assert_array_equal(again, approx)


@pytest.mark.parametrize("loader", [load_iris, load_digits])
def test_trustworthiness_on_sklearn_datasets(loader):
    X = loader().data.astype(np.float32)
    embedding = spatialembed.UMAP(random_state=0).fit_transform(X)
    assert embedding.shape == (len(X), 2) and embedding.dtype == np.float32
    ours = spatialembed.trustworthiness(X, embedding, n_neighbors=10)
    # Equal up to how ties in input distance are ranked (iris has duplicate rows).
    assert ours == pytest.approx(sklearn_trustworthiness(X, embedding, n_neighbors=10), abs=1e-4)
    assert ours >= 0.97


def test_digits_trustworthiness_matches_umap_learn():
    import umap
    X = load_digits().data.astype(np.float32)
    theirs = umap.UMAP(random_state=0).fit_transform(X)
    ours = spatialembed.UMAP(random_state=0).fit_transform(X)
    t_ours = spatialembed.trustworthiness(X, ours, n_neighbors=10)
    t_theirs = spatialembed.trustworthiness(X, theirs, n_neighbors=10)
    assert t_ours >= t_theirs - 0.01


def test_same_seed_same_output_for_any_thread_count():
    X = mixture(5000, 10, seed=4)  # above 4,096: NN-descent path
    a = spatialembed.UMAP(n_epochs=50, random_state=3, n_jobs=1).fit_transform(X)
    b = spatialembed.UMAP(n_epochs=50, random_state=3, n_jobs=2).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    c = spatialembed.UMAP(n_epochs=50, random_state=4, n_jobs=2).fit_transform(X)
    assert not np.array_equal(a, c)


def test_transform_places_training_points_near_their_fit():
    X = load_digits().data.astype(np.float32)
    model = spatialembed.UMAP(random_state=0).fit(X)
    placed = model.transform(X[:200])
    shift = np.linalg.norm(placed - model.embedding_[:200], axis=1)
    scale = np.ptp(model.embedding_, axis=0).max()
    assert np.median(shift) < 0.02 * scale
    # New points (noisy copies) land in the cluster of their source digit.
    noisy = X[:200] + np.random.default_rng(0).normal(scale=0.5, size=X[:200].shape).astype(np.float32)
    moved = model.transform(noisy)
    nearest = np.argmin(((moved[:, None, :] - model.embedding_[None, :, :]) ** 2).sum(-1), axis=1)
    y = load_digits().target
    assert np.mean(y[nearest] == y[:200]) > 0.9


def test_precomputed_inputs_give_the_same_embedding():
    X = mixture(400, 5, seed=5)
    reference = spatialembed.UMAP(n_epochs=100, random_state=1).fit_transform(X)
    indices, dists = spatialembed.nearest_neighbors(X, 15)
    via_knn = spatialembed.UMAP(n_epochs=100, random_state=1, precomputed_knn=(indices, dists)).fit_transform(X)
    np.testing.assert_array_equal(via_knn, reference)
    D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
    via_matrix = spatialembed.UMAP(n_epochs=100, random_state=1, metric="precomputed").fit_transform(D)
    assert spatialembed.trustworthiness(X, via_matrix, n_neighbors=10) > 0.95


def test_init_options_and_n_components():
    X = mixture(600, 8, seed=6)
    for init in ("spectral", "pca", "random", np.random.default_rng(0).uniform(size=(600, 3))):
        embedding = spatialembed.UMAP(n_components=3, init=init, n_epochs=100, random_state=0).fit_transform(X)
        assert embedding.shape == (600, 3)
        assert spatialembed.trustworthiness(X, embedding, n_neighbors=10) > 0.9


def test_graph_attribute_pipeline_and_pickle():
    X = load_iris().data
    model = spatialembed.UMAP(n_components=3, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("umap", model),
                         ("cluster", spatialembed.DBSCAN(eps=0.8, min_samples=5))])
    labels = pipeline.fit_predict(X)
    assert labels.shape == (150,) and labels.max() >= 1
    fitted = pipeline.named_steps["umap"]
    assert scipy.sparse.isspmatrix_csr(fitted.graph_) and fitted.graph_.shape == (150, 150)
    assert abs(fitted.graph_ - fitted.graph_.T).max() < 1e-6
    restored = pickle.loads(pickle.dumps(fitted))
    Xs = pipeline.named_steps["scale"].transform(X)
    np.testing.assert_array_equal(restored.transform(Xs[:10]), fitted.transform(Xs[:10]))
    assert restored.get_params()["n_components"] == 3


def test_duplicate_points_work():
    X = np.repeat(mixture(60, 4, seed=7), 5, axis=0)  # every point five times
    embedding = spatialembed.UMAP(n_neighbors=10, n_epochs=50, random_state=0).fit_transform(X)
    assert np.isfinite(embedding).all()


@pytest.mark.parametrize("kwargs, X, message", [
    (dict(n_neighbors=10), np.zeros((10, 3)), "n_neighbors must be < n_samples = 10"),
    (dict(n_neighbors=1), np.zeros((10, 3)), "n_neighbors must be >= 2"),
    (dict(n_components=0), np.zeros((10, 3)), "n_components must be a positive integer"),
    (dict(n_neighbors=2), np.zeros((1, 3)), "at least 2 samples"),
    (dict(n_neighbors=3), np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 2.0], [3.0, 1.0]]), r"X\[1, 0\] = nan"),
    (dict(n_neighbors=3), np.array([[0.0, 1.0], [np.inf, 1.0], [2.0, 2.0], [3.0, 1.0]]), "infinity"),
    (dict(n_neighbors=3, metric="correlation"), np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 1.0], [3.0, 1.0]]),
     "row 0 is constant"),
    (dict(metric="chebyshev"), np.zeros((20, 3)), "metric must be one of"),
    (dict(min_dist=2.0), np.zeros((20, 3)), "min_dist must be in"),
    (dict(init="laplacian"), np.zeros((20, 3)), "init must be"),
    (dict(knn_method="annoy"), np.zeros((20, 3)), "knn_method must be"),
])
def test_bad_input_raises_value_error(kwargs, X, message):
    with pytest.raises(ValueError, match=message):
        spatialembed.UMAP(**kwargs).fit(X)


def test_transform_errors():
    with pytest.raises(AttributeError, match="not fitted"):
        spatialembed.UMAP().transform(np.zeros((2, 3)))
    model = spatialembed.UMAP(n_neighbors=5, n_epochs=10, random_state=0).fit(mixture(50, 3))
    with pytest.raises(ValueError, match="new data has 4 features, the model was fitted on 3"):
        model.transform(np.zeros((2, 4)))
