"""Vector quantizers: k-means init, EMA learning, dead codes, masks, DDP consistency."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from unicodec.lobes.quantizers import ResidualVectorQuantizer, VectorQuantizer, kmeans


def clusters(num, dim=4, spread=0.05, seed=0, centers=None):
    gen = torch.Generator().manual_seed(seed)
    if centers is None:
        centers = torch.randn(8, dim, generator=gen) * 3
    index = torch.randint(0, centers.shape[0], (num,), generator=gen)
    return centers[index] + spread * torch.randn(num, dim, generator=gen), centers


def test_kmeans_init_puts_codes_on_the_clusters():
    data, centers = clusters(400)
    vq = VectorQuantizer(input_dim=4, codebook_size=8, dead_code_threshold=0)
    vq(data.view(4, 100, 4))
    # every cluster centre has a code within the cluster spread
    dist_to_code = torch.cdist(centers, vq.codebook).min(dim=1).values
    assert dist_to_code.max() < 0.2
    assert bool(vq.initialized)


def test_kmeans_with_fewer_samples_than_clusters_gives_distinct_centroids():
    centroids = kmeans(torch.randn(3, 4), 10)
    assert centroids.shape == (10, 4)
    assert torch.cdist(centroids, centroids).fill_diagonal_(1.0).min() > 0


@pytest.mark.parametrize("ema", [True, False])
def test_quantization_error_falls_with_training(ema):
    torch.manual_seed(0)
    data, centers = clusters(512, seed=1)
    vq = VectorQuantizer(input_dim=4, codebook_size=8, ema=ema, kmeans_init=False)
    opt = torch.optim.Adam(vq.parameters(), lr=0.05) if not ema else None
    x = data.view(4, 128, 4)
    errors = []
    for _ in range(60):
        q, codes, loss = vq(x)
        errors.append(float((q - x).pow(2).mean()))
        if opt:
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert errors[-1] < 0.2 * errors[0]


def test_dead_codes_are_restarted_near_the_data():
    torch.manual_seed(0)
    vq = VectorQuantizer(input_dim=4, codebook_size=16, kmeans_init=False, decay=0.8,
                         dead_code_threshold=0.1)
    data, _ = clusters(256, seed=2)
    with torch.no_grad():  # half the codes start far away from any data
        vq.codebook[8:] = 100.0 + torch.randn(8, 4)
        vq.embed_sum[8:] = vq.codebook[8:]
    far = vq.codebook[8:].clone()
    for _ in range(20):
        vq(data.view(2, 128, 4))
    assert not torch.allclose(vq.codebook[8:], far)
    # restarted codes now sit on the data and get used
    assert torch.cdist(vq.codebook[8:], data).min(dim=1).values.max() < 1.0
    vq.eval()
    used = vq.encode(data.view(2, 128, 4)).unique()
    assert (used >= 8).any()


def test_padded_frames_do_not_touch_the_codebook():
    torch.manual_seed(0)
    vq = VectorQuantizer(input_dim=4, codebook_size=8, dead_code_threshold=0)
    data, _ = clusters(200, seed=3)
    x = data.view(2, 100, 4).clone()
    mask = torch.ones(2, 100, dtype=torch.bool)
    mask[1, 60:] = False
    reference = VectorQuantizer(input_dim=4, codebook_size=8, dead_code_threshold=0)
    reference.load_state_dict(vq.state_dict())
    torch.manual_seed(1)
    _, codes, loss = vq(x, mask)
    x_garbage = x.clone()
    x_garbage[1, 60:] = 1e4  # padding content must not matter
    torch.manual_seed(1)
    _, codes_ref, loss_ref = reference(x_garbage, mask)
    assert torch.equal(vq.codebook, reference.codebook)
    assert torch.equal(codes, codes_ref)
    assert codes[1, 60:].eq(0).all()
    assert torch.allclose(loss, loss_ref)


def test_quantizer_dropout_choice_is_the_same_on_simulated_ranks():
    choices = []
    for rank in range(2):
        torch.manual_seed(1234 + rank)  # different global RNG on each "rank"
        rvq = ResidualVectorQuantizer(input_dim=4, num_quantizers=4, codebook_size=8,
                                      quantizer_dropout=0.5, dropout_seed=7)
        choices.append([rvq.active_quantizers() for _ in range(200)])
    assert choices[0] == choices[1]
    assert set(choices[0]) == {1, 2, 3, 4}  # dropout does happen, at every depth
    assert 0.5 < choices[0].count(4) / 200 < 0.75  # keeps all: 0.5 + 0.5 / 4


def test_dropped_stages_keep_every_parameter_in_the_graph():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(input_dim=4, num_quantizers=3, codebook_size=8,
                                  codebook_dim=2, ema=False, quantizer_dropout=1.0)
    x = torch.randn(2, 10, 4, requires_grad=True)
    while True:  # a batch where not every stage is kept
        step = int(rvq.step)
        keep = rvq.active_quantizers()
        rvq.step.fill_(step)
        if keep < 3:
            break
        rvq.step.fill_(step + 1)
    q, codes, loss = rvq(x)
    (q.sum() + loss).backward()
    assert all(p.grad is not None for p in rvq.parameters())
    dropped = rvq.quantizers[keep]
    assert dropped.project_out.weight.grad.abs().sum() == 0
    assert rvq.quantizers[0].project_out.weight.grad.abs().sum() > 0


def test_encode_decode_with_fewer_codebooks():
    rvq = ResidualVectorQuantizer(input_dim=4, num_quantizers=3, codebook_size=8).eval()
    x = torch.randn(2, 10, 4)
    full, fewer = rvq.encode(x), rvq.encode(x, num_quantizers=1)
    assert full.shape == (2, 10, 3) and fewer.shape == (2, 10, 1)
    assert torch.equal(full[..., :1], fewer)
    with pytest.raises(ValueError, match="4 codebooks"):
        rvq.decode(torch.zeros(2, 10, 4, dtype=torch.long))


def _ddp_worker(rank, world_size, port, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(100 + rank)  # each rank sees different data and RNG
    rvq = ResidualVectorQuantizer(input_dim=4, num_quantizers=3, codebook_size=16,
                                  quantizer_dropout=0.5, dropout_seed=3,
                                  dead_code_threshold=0.2, decay=0.8)
    torch.manual_seed(0)  # same initial codebook everywhere, as DDP would broadcast
    rvq.load_state_dict(ResidualVectorQuantizer(
        input_dim=4, num_quantizers=3, codebook_size=16).state_dict())
    torch.manual_seed(100 + rank)
    keeps = []
    for _ in range(10):
        data, _ = clusters(128, seed=int(torch.randint(0, 1000, ())))
        keeps.append(int(rvq.active_quantizers()))
        rvq.step -= 1
        rvq(data.view(2, 64, 4))
    torch.save({"keeps": keeps, "state": rvq.state_dict()}, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def test_two_gloo_ranks_keep_identical_codebooks_and_choices(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert r0["keeps"] == r1["keeps"]
    for key in r0["state"]:
        torch.testing.assert_close(r0["state"][key], r1["state"][key], msg=key)
    # the codebooks did move away from their common starting point
    start = ResidualVectorQuantizer(input_dim=4, num_quantizers=3, codebook_size=16)
    assert not torch.allclose(r0["state"]["quantizers.0.codebook"],
                              start.state_dict()["quantizers.0.codebook"])


def test_pitch_level_quantizer_codes_the_level_explicitly():
    import math

    from unicodec.lobes.pitch_quantizer import PitchLevelQuantizer

    torch.manual_seed(0)
    quantizer = PitchLevelQuantizer(input_dim=5, num_quantizers=2, codebook_size=32,
                                    log_f0_min=-1.0, log_f0_max=1.0, center=0.0)
    level = torch.linspace(-0.9, 0.9, 12).view(2, 6, 1)
    x = torch.cat([torch.randn(2, 6, 4), level], -1)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    quantizer.train()(x, mask)  # k-means initialisation and one codebook update
    quantized, codes, _ = quantizer.eval()(x, mask)
    assert torch.equal(codes, quantizer.encode(x, mask))
    assert (codes[1, 4:] == 0).all()  # padding
    step = 2.0 / 31
    assert (quantized[..., -1] / 4 - level[..., 0]).abs()[mask].max() <= step / 2 + 1e-6
    torch.testing.assert_close(quantizer.decode(codes)[mask], quantized[mask])
    # fewer tokens: the level comes first, so one token still carries it
    one = quantizer.encode(x, mask, num_quantizers=1)
    assert one.shape == (2, 6, 1) and torch.equal(one[..., 0], codes[..., 0])
    assert torch.equal(quantizer.decode(one)[..., -1], quantized[..., -1])
    assert quantizer.decode(codes[..., :0]).abs().sum() == 0
    with pytest.raises(ValueError, match="codebooks"):
        quantizer.decode(torch.zeros(2, 6, 4, dtype=torch.long))
    assert math.isclose(quantizer.codebook_size, 32) and quantizer.num_quantizers == 3


def test_pitch_level_quantizer_codes_spectrum_tokens_after_the_level():
    from unicodec.lobes.pitch_quantizer import SPECTRUM_SCALE, PitchLevelQuantizer

    torch.manual_seed(0)
    centre = [10.0, -2.0, 0.0]
    quantizer = PitchLevelQuantizer(input_dim=8, num_quantizers=2, codebook_size=32,
                                    spectrum_dim=3, spectrum_step=0.5, spectrum_center=centre)
    spectrum = torch.tensor(centre) + 3 * torch.randn(2, 1, 3)
    level = torch.log(torch.tensor([[[120.0]], [[210.0]]]))
    x = torch.cat([torch.randn(2, 1, 4), spectrum, level], -1)
    quantizer.train()(x)
    quantized, codes, _ = quantizer.eval()(x)
    assert codes.shape == (2, 1, 6) and quantizer.num_quantizers == 6
    assert torch.equal(codes, quantizer.encode(x))
    # the spectrum tokens hold each value to half a step, relative to its centre
    values = quantized[..., -4:-1] / SPECTRUM_SCALE + torch.tensor(centre)
    assert (values - spectrum).abs().max() <= 0.25 + 1e-5
    torch.testing.assert_close(quantizer.decode(codes), quantized)
    # every token's rows sum to the decoded vector (token embeddings for language models)
    rows = sum(quantizer.stage_vectors(i)[codes[0, 0, i]] for i in range(6))
    torch.testing.assert_close(rows, quantized[0, 0])
    # a prefix: the level and the first spectrum tokens; the rest decode to their centres
    two = quantizer.encode(x, num_quantizers=2)
    assert torch.equal(two, codes[..., :2])
    decoded = quantizer.decode(two)
    assert torch.equal(decoded[..., -1], quantized[..., -1])
    assert torch.equal(decoded[..., -4], quantized[..., -4])
    assert decoded[..., -3:-1].abs().sum() == 0 and decoded[..., :4].abs().sum() == 0
    with pytest.raises(ValueError, match="spectrum_center"):
        PitchLevelQuantizer(input_dim=8, spectrum_dim=3, spectrum_center=[0.0] * 4)
    # a shorter list centres the tokens beyond it (G's class spectra) at zero
    short = PitchLevelQuantizer(input_dim=8, spectrum_dim=3, spectrum_center=[2.0])
    assert short.spectrum_center.tolist() == [2.0, 0.0, 0.0]
