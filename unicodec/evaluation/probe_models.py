"""The probes themselves: linear (or one-hidden-layer MLP) classifiers and regressors fitted
on standardised features, deterministic for a seed."""

from collections import Counter

import torch
import torch.nn.functional as F


def _standardiser(x):
    mean = x.mean(0, keepdim=True)
    std = x.std(0, unbiased=False, keepdim=True).clamp(min=1e-6)
    return lambda z: (z - mean) / std

def _subsample(n, max_items, seed):
    if max_items is None or n <= max_items:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:max_items].sort().values

def _mlp(input_size, hidden_size, output_size, seed):
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if hidden_size:
            model = torch.nn.Sequential(
                torch.nn.Linear(input_size, hidden_size), torch.nn.ReLU(),
                torch.nn.Linear(hidden_size, output_size),
            )
        else:
            model = torch.nn.Linear(input_size, output_size)
            torch.nn.init.zeros_(model.weight)
            torch.nn.init.zeros_(model.bias)
    finally:
        torch.random.set_rng_state(gen_state)
    return model

def _fit(model, loss_fn, hidden_size, max_iter):
    """Full-batch training: L-BFGS for a linear probe, Adam for an MLP."""
    if hidden_size:
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(max_iter * 3):
            optimizer.zero_grad()
            loss = loss_fn()
            loss.backward()
            optimizer.step()
        return
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)

def probe_classification(x_train, y_train, x_test, y_test, hidden_size=0, weight_decay=1e-3,
                         max_iter=100, seed=0):
    """Trains a classifier on ``(x_train, y_train)`` and scores it on the test items.

    Arguments
    ---------
    x_train, x_test : torch.Tensor
        ``[N, D]`` features (standardised with the training statistics).
    y_train, y_test : list
        Labels (any hashable). Test items whose label was never seen in training are
        left out (they cannot be classified).
    hidden_size : int
        0: a linear probe (multinomial logistic regression by L-BFGS); else a one-hidden-
        layer MLP of that width (Adam).
    weight_decay : float
        L2 penalty on the weights.
    max_iter : int
        Optimisation steps (L-BFGS iterations; three times as many Adam steps).
    seed : int
        Seed of the MLP's initialisation (the linear probe starts from zero).

    Returns
    -------
    dict
        ``score`` (accuracy), ``chance`` (accuracy of the majority training class),
        ``num_train``, ``num_test``, ``num_classes``.

    Example
    -------
    >>> x = torch.tensor([[0.0], [0.1], [1.0], [1.1]])
    >>> probe_classification(x, ["a", "a", "b", "b"], x, ["a", "a", "b", "c"])["score"]
    1.0
    """
    classes = sorted(set(y_train), key=str)
    index = {label: i for i, label in enumerate(classes)}
    keep = [i for i, label in enumerate(y_test) if label in index]
    x_test = x_test[keep]
    targets = torch.tensor([index[y] for y in y_train])
    test_targets = torch.tensor([index[y_test[i]] for i in keep], dtype=torch.long)
    majority = Counter(targets.tolist()).most_common(1)[0][0]
    result = {"num_train": len(y_train), "num_test": len(keep), "num_classes": len(classes)}
    if not keep:
        return dict(result, score=float("nan"), chance=float("nan"))
    chance = float((test_targets == majority).float().mean())
    if len(classes) < 2:
        return dict(result, score=1.0, chance=chance)
    scale = _standardiser(x_train.float())
    x, x_test = scale(x_train.float()), scale(x_test.float())
    model = _mlp(x.shape[1], hidden_size, len(classes), seed)

    def loss_fn():
        penalty = sum(p.pow(2).sum() for n, p in model.named_parameters() if "weight" in n)
        return F.cross_entropy(model(x), targets) + weight_decay * penalty

    _fit(model, loss_fn, hidden_size, max_iter)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(-1) == test_targets).float().mean()
    return dict(result, score=float(accuracy), chance=chance)

def probe_regression(x_train, y_train, x_test, y_test, hidden_size=0, weight_decay=1e-3,
                     max_iter=100, seed=0):
    """Trains a regressor on ``(x_train, y_train)``; R^2 on the test items.

    A linear probe is ridge regression (closed form); ``hidden_size > 0`` gives a
    one-hidden-layer MLP trained by Adam on the mean squared error.

    Returns
    -------
    dict
        ``score`` (R^2 on the test items: 1 is perfect, 0 is the test mean's score,
        negative is worse), ``corr`` (Pearson correlation of predictions and targets),
        ``chance`` (0), ``num_train``, ``num_test``, ``num_classes`` (0).

    Example
    -------
    >>> x = torch.linspace(-1, 1, 50)[:, None]
    >>> round(probe_regression(x, 3 * x[:, 0] + 1, x, 3 * x[:, 0] + 1)["score"], 4)
    1.0
    """
    y_train = torch.as_tensor(y_train, dtype=torch.float32).reshape(-1)
    y_test = torch.as_tensor(y_test, dtype=torch.float32).reshape(-1)
    result = {"num_train": len(y_train), "num_test": len(y_test), "num_classes": 0,
              "chance": 0.0}
    if len(y_test) < 2 or len(y_train) < 2:
        return dict(result, score=float("nan"), corr=float("nan"))
    scale = _standardiser(x_train.float())
    x, x_test = scale(x_train.float()), scale(x_test.float())
    y_mean, y_std = y_train.mean(), y_train.std(unbiased=False).clamp(min=1e-6)
    target = (y_train - y_mean) / y_std
    if hidden_size:
        model = _mlp(x.shape[1], hidden_size, 1, seed)

        def loss_fn():
            penalty = sum(p.pow(2).sum() for n, p in model.named_parameters() if "weight" in n)
            return F.mse_loss(model(x)[:, 0], target) + weight_decay * penalty

        _fit(model, loss_fn, hidden_size, max_iter)
        with torch.no_grad():
            pred = model(x_test)[:, 0]
    else:
        xb = torch.cat([x, torch.ones(len(x), 1)], 1).double()
        reg = weight_decay * len(x) * torch.eye(xb.shape[1], dtype=torch.float64)
        reg[-1, -1] = 0.0  # no penalty on the bias
        weights = torch.linalg.solve(xb.T @ xb + reg, xb.T @ target.double())
        pred = (torch.cat([x_test, torch.ones(len(x_test), 1)], 1).double() @ weights).float()
    pred = pred * y_std + y_mean
    residual = (y_test - pred).pow(2).sum()
    total = (y_test - y_test.mean()).pow(2).sum()
    r2 = float(1 - residual / total) if total > 0 else float("nan")
    a, b = pred - pred.mean(), y_test - y_test.mean()
    denom = a.norm() * b.norm()
    corr = float((a * b).sum() / denom) if denom > 0 else float("nan")
    return dict(result, score=r2, corr=corr)
