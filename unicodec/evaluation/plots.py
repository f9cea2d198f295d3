"""Pictures of the evaluation report: bars of the probe scores of each stream."""

from unicodec.evaluation import probes


def save_probe_bars(path, results, title=None):
    """Writes a PNG bar chart of probe scores: a group per task, a bar per stream.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "probes.png")
    >>> save_probe_bars(path, [probes.ProbeResult("speaker", "global", "accuracy",
    ...                                           0.9, 0.2, 10, 5, 3)])
    >>> os.path.getsize(path) > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = []
    for r in results:
        if (r.task, r.metric) not in tasks:
            tasks.append((r.task, r.metric))
    colours = {"global": "tab:blue", "semantic": "tab:orange", "paralinguistic": "tab:green"}
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(tasks), 3.6))
    width = 0.26
    for i, (task, metric) in enumerate(tasks):
        for j, stream in enumerate(probes.STREAMS):
            match = [r for r in results if (r.task, r.metric, r.stream) == (task, metric, stream)]
            if not match:
                continue
            r = match[0]
            ax.bar(i + (j - 1) * width, max(r.score, -0.2), width, color=colours[stream],
                   label=probes.STREAM_LETTERS[stream] if i == 0 else None)
            ax.plot([i + (j - 1.5) * width, i + (j - 0.5) * width], [r.chance, r.chance],
                    color="black", linewidth=1)
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels([f"{task}\n({metric})" for task, metric in tasks])
    ax.set_ylim(min(-0.05, min(r.score for r in results) - 0.05), 1.05)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_ylabel("score (black: chance)")
    handles, names = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, names, loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
