"""Codebook operations shared by the vector quantizers: nearest codes, k-means with k-means++
seeding, row sampling, and their DDP collectives (sums, broadcasts, gathers over ranks)."""

import torch


def _distributed():
    return torch.distributed.is_available() and torch.distributed.is_initialized()

def _all_reduce_sum(tensor):
    if _distributed():
        torch.distributed.all_reduce(tensor)
    return tensor

def _broadcast(tensor, src=0):
    if _distributed():
        torch.distributed.broadcast(tensor, src)
    return tensor

def _gather_rows(samples):
    """The rows of ``samples`` ``[N, D]`` of every rank, concatenated in rank order (the
    same on all ranks; ``samples`` itself without DDP)."""
    if not _distributed():
        return samples
    world = torch.distributed.get_world_size()
    count = torch.tensor([samples.shape[0]], device=samples.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    torch.distributed.all_gather(counts, count)
    counts = [int(c) for c in counts]
    padded = samples.new_zeros(max(counts), samples.shape[1])
    padded[: samples.shape[0]] = samples
    gathered = [torch.zeros_like(padded) for _ in range(world)]
    torch.distributed.all_gather(gathered, padded.contiguous())
    return torch.cat([rows[:n] for rows, n in zip(gathered, counts)])

def _sample_rows(samples, num):
    """``num`` rows of ``samples``, without replacement when there are enough."""
    if samples.shape[0] >= num:
        index = torch.randperm(samples.shape[0], device=samples.device)[:num]
    else:
        index = torch.randint(0, samples.shape[0], (num,), device=samples.device)
    return samples[index]

def _nearest(vectors, codebook):
    """Index of the nearest codebook row (squared Euclidean) for each row of ``vectors``."""
    dist = (
        vectors.pow(2).sum(-1, keepdim=True)
        - 2 * vectors @ codebook.t()
        + codebook.pow(2).sum(-1).unsqueeze(0)
    )
    return dist.argmin(dim=-1)

def _kmeans_plus_plus(samples, num_clusters):
    """k-means++ seeding: each new centroid drawn in proportion to its squared distance."""
    centroids = samples.new_empty(num_clusters, samples.shape[1])
    centroids[0] = samples[torch.randint(0, samples.shape[0], (1,))]
    closest = (samples - centroids[0]).pow(2).sum(-1)
    for index in range(1, num_clusters):
        if closest.sum() <= 0:  # fewer distinct samples than clusters
            pick = torch.randint(0, samples.shape[0], (1,))
        else:
            pick = torch.multinomial(closest, 1)
        centroids[index] = samples[pick]
        closest = torch.minimum(closest, (samples - centroids[index]).pow(2).sum(-1))
    return centroids

def kmeans(samples, num_clusters, num_iters=10, init=None):
    """k-means (k-means++ seeding, then Lloyd iterations) on the rows of ``samples``.

    Arguments
    ---------
    samples : torch.Tensor
        ``[N, D]`` vectors (N may be smaller than ``num_clusters``: then centroids are
        drawn with replacement and jittered so that they differ).
    num_clusters : int
        Number of centroids.
    num_iters : int
        Lloyd iterations.
    init : torch.Tensor, optional
        ``[num_clusters, D]`` centroids to start from instead of the seeding (a
        clustering that follows slowly moving samples).

    Returns
    -------
    torch.Tensor
        ``[num_clusters, D]`` centroids.

    Example
    -------
    >>> data = torch.cat([torch.randn(50, 2) * 0.1 + 5, torch.randn(50, 2) * 0.1 - 5])
    >>> centroids = kmeans(data, 2)
    >>> sorted(round(v) for v in centroids[:, 0].tolist())
    [-5, 5]
    """
    if init is not None:
        centroids = init.clone()
    elif samples.shape[0] >= num_clusters:
        centroids = _kmeans_plus_plus(samples, num_clusters)
    else:
        centroids = _sample_rows(samples, num_clusters).clone()
        scale = samples.std() if samples.shape[0] > 1 else samples.abs().mean()
        centroids += 1e-2 * (scale + 1e-6) * torch.randn_like(centroids)
    for _ in range(num_iters):
        assign = _nearest(samples, centroids)
        counts = torch.bincount(assign, minlength=num_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assign, samples)
        used = counts > 0
        centroids[used] = sums[used] / counts[used].unsqueeze(-1).to(sums.dtype)
    return centroids
