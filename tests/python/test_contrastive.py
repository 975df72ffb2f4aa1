"""The contrastive trainer against independent Python PyTorch references: the clip loss as
OpenCLIP computes it, the bleep loss as BLEEP's models.py computes it, and a whole training
run (initialisation, data order, dropout, AdamW groups, warm-up + cosine, clipping, clamp)
written here as a plain PyTorch loop; BLEEP's retrieval and per-gene Pearson r with NumPy."""
import numpy as np
import pytest

import spatialembed

torch = pytest.importorskip("torch")
if not spatialembed.nn.has_nn():
    pytest.skip("built without LibTorch", allow_module_level=True)

import torch.nn.functional as F  # noqa: E402
from sklearn.base import clone  # noqa: E402

from spatialembed import contrastive  # noqa: E402
from spatialembed.contrastive import ContrastiveTrainer  # noqa: E402

torch.set_num_threads(1)
M64 = (1 << 64) - 1


# ---------------------------------------------------------------- references

def openclip_loss(image, gene, logit_scale):
    image, gene = F.normalize(image, dim=-1), F.normalize(gene, dim=-1)
    logits = logit_scale.exp() * image @ gene.T
    labels = torch.arange(len(image))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def bleep_reference(image_embeddings, spot_embeddings, temperature=1.0):
    # bowang-lab/BLEEP models.py, CLIPModel.forward after the encoders.
    def cross_entropy(preds, targets):
        return (-targets * torch.nn.LogSoftmax(dim=-1)(preds)).sum(1)
    logits = (spot_embeddings @ image_embeddings.T) / temperature
    images_similarity = image_embeddings @ image_embeddings.T
    spots_similarity = spot_embeddings @ spot_embeddings.T
    targets = F.softmax((images_similarity + spots_similarity) / 2 * temperature, dim=-1)
    spots_loss = cross_entropy(logits, targets)
    images_loss = cross_entropy(logits.T, targets.T)
    return ((images_loss + spots_loss) / 2.0).mean()


class Rng:
    """spatialembed's Rng (common/random.hpp): xoshiro256** seeded by splitmix64."""

    def __init__(self, seed, stream=0):
        sm = (seed ^ ((0xD1B54A32D192ED03 * (stream + 1)) & M64)) & M64
        self.s = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64  # noqa: E731
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53

    def below(self, n):
        m = self.next() * n
        if (m & M64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M64) < threshold:
                m = self.next() * n
        return m >> 64


class Head(torch.nn.Module):
    """BLEEP's projection head with the trainer's composite LayerNorm and Rng dropout masks."""

    def __init__(self, d, latent, p):
        super().__init__()
        self.projection = torch.nn.Linear(d, latent)
        self.fc = torch.nn.Linear(latent, latent)
        self.weight = torch.nn.Parameter(torch.ones(latent))
        self.bias = torch.nn.Parameter(torch.zeros(latent))
        self.p = p

    def forward(self, x, rng=None):
        projected = self.projection(x)
        y = self.fc(F.gelu(projected))
        if rng is not None and self.p > 0:
            keep = np.float32(1.0 / (1.0 - self.p))
            mask = np.array([keep if rng.uniform() >= self.p else 0.0 for _ in range(y.numel())], dtype=np.float32)
            y = y * torch.from_numpy(mask).reshape(y.shape)
        y = y + projected
        centred = y - y.mean(-1, keepdim=True)
        var = (centred * centred).mean(-1, keepdim=True)
        return centred * torch.rsqrt(var + 1e-5) * self.weight + self.bias


def reference_run(features, expression, o):
    """The trainer's loop, step for step, in plain PyTorch."""
    gen = torch.Generator().manual_seed(o["seed"])
    image_head = Head(features.shape[1], o["latent_dim"], o["dropout"])
    gene_head = Head(expression.shape[1], o["latent_dim"], o["dropout"])
    with torch.no_grad():
        for head in (image_head, gene_head):
            for layer in (head.projection, head.fc):
                bound = 1.0 / np.sqrt(layer.weight.shape[1])
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
    logit_scale = torch.nn.Parameter(torch.tensor(o["logit_scale_init"], dtype=torch.float32))
    named = [*image_head.named_parameters(), *gene_head.named_parameters(), ("logit_scale", logit_scale)]
    decay = [p for _, p in named if p.dim() >= 2]
    no_decay = [p for _, p in named if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=o["lr"], betas=o["betas"], eps=o["eps"])
    X, Y = torch.from_numpy(features), torch.from_numpy(expression)
    n, bs = len(X), o["batch_size"]
    per_epoch = n // bs
    total = per_epoch * o["epochs"]
    step = 0
    losses = []
    for epoch in range(o["epochs"]):
        order = list(range(n))
        rng = Rng(o["seed"], (1 << 60) + epoch)
        for i in range(n, 1, -1):
            j = rng.below(i)
            order[i - 1], order[j] = order[j], order[i - 1]
        for b in range(per_epoch):
            idx = torch.tensor(order[b * bs:(b + 1) * bs])
            drop = Rng(o["seed"], (2 << 60) + step)
            loss = openclip_loss(image_head(X[idx], drop), gene_head(Y[idx], drop), logit_scale)
            opt.zero_grad()
            loss.backward()
            norm = np.sqrt(sum(float(p.grad.double().pow(2).sum()) for _, p in named))
            coef = o["grad_clip"] / (norm + 1e-6)
            if coef < 1:
                for _, p in named:
                    p.grad.mul_(coef)
            if step < o["warmup_steps"]:
                lr = o["lr"] * (step + 1) / o["warmup_steps"]
            else:
                e, E = step - o["warmup_steps"], total - o["warmup_steps"]
                lr = 0.5 * (1 + np.cos(np.pi * e / E)) * o["lr"]
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            with torch.no_grad():
                logit_scale.clamp_(0, o["logit_scale_max"])
            losses.append(float(loss))
            step += 1
    with torch.no_grad():
        return image_head(X).numpy(), gene_head(Y).numpy(), float(logit_scale), losses


def pairs(n=48, genes=12, feature_dim=20, seed=0):
    rng = np.random.default_rng(seed)
    expression = np.log1p(rng.poisson(2.0, size=(n, genes))).astype(np.float32)
    features = (expression @ rng.normal(size=(genes, feature_dim)) + 0.3 * rng.normal(size=(n, feature_dim)))
    return features.astype(np.float32), expression


# ---------------------------------------------------------------- tests

def test_losses_equal_pytorch_references():
    rng = np.random.default_rng(1)
    for n, d in [(2, 3), (7, 5), (64, 32)]:
        image = (3 * rng.normal(size=(n, d))).astype(np.float32)
        gene = rng.normal(size=(n, d)).astype(np.float32)
        for scale in (0.0, np.log(1 / 0.07), np.log(100.0)):
            expected = float(openclip_loss(torch.from_numpy(image), torch.from_numpy(gene),
                                           torch.tensor(scale, dtype=torch.float32)))
            assert contrastive.clip_loss(image, gene, scale) == pytest.approx(expected, rel=1e-5, abs=1e-6)
        for temperature in (1.0, 0.3):
            small = image / 4
            expected = float(bleep_reference(torch.from_numpy(small), torch.from_numpy(gene), temperature))
            assert contrastive.bleep_loss(small, gene, temperature) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_training_equals_a_pytorch_loop():
    features, expression = pairs()
    o = dict(seed=3, latent_dim=16, dropout=0.1, logit_scale_init=float(np.log(1 / 0.07)),
             logit_scale_max=float(np.log(100)), weight_decay=0.1, lr=5e-3, betas=(0.9, 0.98), eps=1e-6,
             batch_size=16, epochs=3, warmup_steps=2, grad_clip=0.5)
    losses = []
    est = ContrastiveTrainer(backbone="features", latent_dim=16, dropout=0.1, weight_decay=0.1, lr=5e-3,
                             betas=(0.9, 0.98), eps=1e-6, batch_size=16, epochs=3, warmup_steps=2, grad_clip=0.5,
                             random_state=3, n_jobs=1, callback=lambda s: losses.append(s.loss))
    est.fit(features, expression)
    img_ref, gene_ref, scale_ref, losses_ref = reference_run(features, expression, o)
    np.testing.assert_allclose(losses, losses_ref, rtol=1e-5)
    np.testing.assert_allclose(est.encode_images(features, normalize=False), img_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(est.encode_genes(expression, normalize=False), gene_ref, rtol=1e-4, atol=1e-5)
    assert est.model_.logit_scale == pytest.approx(scale_ref, rel=1e-6)
    assert est.result_.steps == 9


def test_estimator_fit_encode_predict_save_load(tmp_path):
    features, expression = pairs(n=64, seed=5)
    group = np.repeat([0, 1], 32)
    est = ContrastiveTrainer(backbone="features", gene_encoder="linear", latent_dim=16, batch_size=16, epochs=5,
                             validation_groups=(1,), log_csv=str(tmp_path / "log.csv"), n_jobs=1)
    assert clone(est).get_params() == est.get_params()
    assert est.get_params()["lr"] == spatialembed._nn.ContrastiveOptions().lr  # the C++ default
    est.fit(features, expression, group=group)
    r = est.result_
    assert (r.train_pairs, r.validation_pairs, r.steps, r.epochs) == (32, 32, 10, 5)
    assert len(r.validation_loss) == 5 and r.best_validation_loss == min(r.validation_loss)
    assert (tmp_path / "log.csv").read_text().count("\n") == 11
    img = est.encode_images(features)
    assert img.shape == (64, 16) and img.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, rtol=1e-5)

    # BLEEP's retrieval written out with NumPy: cosine top-k of the image query against the
    # gene embeddings of the reference, then the mean of their expression.
    query, reference = est.encode_images(features[32:], normalize=False), est.encode_genes(expression[:32], False)
    qn = query / np.linalg.norm(query, axis=1, keepdims=True)
    rn = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    top = np.argsort(-(qn @ rn.T), axis=1, kind="stable")[:, :5]
    expected = expression[:32][top].mean(axis=1)
    predicted = est.predict_expression(features[32:], expression[:32], k=5)
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(contrastive.nearest_by_cosine(query, reference, 5), top)
    r_genes = contrastive.pearson_per_gene(predicted, expression[32:])
    for g in range(expression.shape[1]):
        np.testing.assert_allclose(r_genes[g], np.corrcoef(predicted[:, g], expression[32:, g])[0, 1], rtol=1e-6)
    heg = contrastive.highest_mean_genes(expression, 3)
    np.testing.assert_array_equal(heg, np.argsort(-expression.mean(axis=0), kind="stable")[:3])

    est.save(tmp_path / "model.pt")
    loaded = ContrastiveTrainer.load(tmp_path / "model.pt")
    assert loaded.get_params()["gene_encoder"] == "linear"
    np.testing.assert_array_equal(loaded.encode_genes(expression), est.encode_genes(expression))


def test_bad_input_is_a_value_error(tmp_path):
    features, expression = pairs(n=12)
    with pytest.raises(ValueError, match="batch_size 16 is larger than the 12"):
        ContrastiveTrainer(backbone="features", batch_size=16).fit(features, expression)
    bad = expression.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="pair 2 gene 1"):
        ContrastiveTrainer(backbone="features", batch_size=4).fit(features, bad)
    with pytest.raises(ValueError, match="gene_encoder"):
        ContrastiveTrainer(gene_encoder="transformer").fit(features, expression)
    with pytest.raises(ValueError, match="tiles must be uint8"):
        ContrastiveTrainer(weights="random").fit(features, expression)
    est = ContrastiveTrainer(backbone="features", batch_size=4, epochs=1, checkpoint=str(tmp_path / "c.ckpt"))
    est.fit(features, expression)
    with pytest.raises(ValueError, match="another architecture"):
        ContrastiveTrainer(backbone="features", batch_size=4, latent_dim=8,
                           resume=str(tmp_path / "c.ckpt")).fit(features, expression)
    with pytest.raises(KeyboardInterrupt):
        ContrastiveTrainer(backbone="features", batch_size=4, callback=lambda s: False).fit(features, expression)
    with pytest.raises(ValueError, match="not fitted"):
        ContrastiveTrainer().encode_genes(expression)
