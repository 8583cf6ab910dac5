"""Every process of a data-parallel run must see its share of the same global batches."""

import numpy as np
import torch
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from nsmc_trainer.batching import GlobalLengthGroupedSampler
from nsmc_trainer.metrics import mean_cross_entropy

LENGTHS = np.random.default_rng(0).integers(3, 128, size=1000).tolist()


def global_batches(processes: int, per_process: int, epoch: int) -> list[list[int]]:
    """The reviews of each optimizer step, as the processes of a run would draw them.

    Each process shuffles after its own share of dropout, which leaves the global RNG in a
    different state on each.
    """
    shards = []
    for rank in range(processes):
        torch.rand(rank * 7 + 1)
        sampler = GlobalLengthGroupedSampler(LENGTHS, processes * per_process, seed=7, current_epoch=lambda: epoch)
        shards.append(list(BatchSamplerShard(BatchSampler(sampler, per_process, False), processes, rank)))
    return [sorted(sum((shard[step] for shard in shards), [])) for step in range(len(shards[0]))]


def test_two_processes_of_16_take_the_same_global_batches_as_one_of_32():
    assert global_batches(2, 16, epoch=1) == global_batches(1, 32, epoch=1)


def test_an_epoch_covers_every_review_once():
    assert sorted(sum(global_batches(2, 20, epoch=0), [])) == list(range(len(LENGTHS)))


def test_each_epoch_has_its_own_order_and_a_resumed_epoch_redraws_it():
    assert global_batches(2, 16, epoch=1) != global_batches(2, 16, epoch=2)
    assert global_batches(2, 16, epoch=2) == global_batches(2, 16, epoch=2)


def test_batches_hold_reviews_of_similar_length():
    def median_spread(batches: list[list[int]]) -> float:
        return float(np.median([np.ptp([LENGTHS[index] for index in batch]) for batch in batches]))

    shuffled = np.random.default_rng(1).permutation(len(LENGTHS)).reshape(-1, 40).tolist()
    assert median_spread(global_batches(2, 20, epoch=0)) < median_spread(shuffled) / 4


def test_eval_loss_is_the_mean_over_reviews_not_over_batches():
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    labels = np.array([0, 0, 1])
    per_review = -torch.log_softmax(torch.tensor(logits), dim=-1)[torch.arange(3), torch.tensor(labels)]
    assert mean_cross_entropy(logits, labels) == per_review.mean().item()
    assert mean_cross_entropy((logits, np.zeros(3)), labels) == per_review.mean().item()


def test_consecutive_batches_are_not_sorted_by_length():
    """Grouping alone runs each mega-batch of 50 batches longest to shortest: a saw-tooth that
    correlates consecutive steps. Whole batches are shuffled, so lengths go up as often as down."""
    longest = [max(LENGTHS[index] for index in batch) for batch in global_batches(1, 8, epoch=0)]
    shorter_next = np.mean(np.diff(longest[1:-1]) < 0)
    assert 0.3 < shorter_next < 0.7


def test_the_longest_review_is_in_the_first_batch():
    assert max(LENGTHS[index] for index in global_batches(2, 8, epoch=3)[0]) == max(LENGTHS)

