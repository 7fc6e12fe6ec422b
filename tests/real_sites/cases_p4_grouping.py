"""P4: row positions grouped by value with `enumerate` + `.append` (PFL202).

Labelled before perflint ran on them: `fix` where the code shows the values are a pandas column or Series
and the loop only groups positions; `none` where the values are a list, an array or a tuple index, or the loop
appends something other than the position. Public pandas-evidenced sites were scarce in the searchable index;
the `none` sites are the same loop shape over non-pandas values, which PFL202 must leave alone.
"""

from tests.real_sites.site import Pattern, RealSite

PATTERN = Pattern("P4 enumerate grouping", ("PFL202",))

GOGOOKU = "wer-inc/gogooku3"
GOGOOKU_COMMIT = "62e0061d2961a87abb5a27701d787db913df431e"

CASES = (
    RealSite(
        GOGOOKU, "src/gogooku3/data/samplers/day_batch_sampler.py", GOGOOKU_COMMIT, 160, "fix",
        '''
        from collections import defaultdict

        import numpy as np
        import pandas as pd


        class DayBatchSampler:
            def _build_date_indices(self):
                date_indices = defaultdict(list)
                try:
                    seq_dates = getattr(self.dataset, "sequence_dates", None)
                    if seq_dates is not None:
                        return self._fast_path(np.asarray(seq_dates))
                except Exception as e:
                    logger.debug(f"sequence_dates fast-path failed: {e}")
                if hasattr(self.dataset, "data"):
                    data = self.dataset.data
                elif hasattr(self.dataset, "df"):
                    data = self.dataset.df
                else:
                    return self._build_sequential_indices()
                if isinstance(data, pd.DataFrame):
                    if self.date_column in data.columns:
                        for idx, date in enumerate(data[self.date_column]):  # <- site
                            date_indices[date].append(idx)
                    else:
                        return self._build_sequential_indices()
                elif hasattr(data, self.date_column):
                    dates = data[self.date_column].to_list()
                    for idx, date in enumerate(dates):
                        date_indices[date].append(idx)
                filtered_indices = {}
                for date, indices in date_indices.items():
                    if len(indices) >= self.min_samples_per_day:
                        filtered_indices[date] = indices
                return filtered_indices
        ''',
        note="the seed pipeline's sampler: dict created at the top, a try fast path and branches between",
    ),
    RealSite(
        GOGOOKU, "src/gogooku3/data/samplers/day_batch_sampler.py", GOGOOKU_COMMIT, 169, "none",
        '''
        from collections import defaultdict


        def build(data, date_column):
            date_indices = defaultdict(list)
            dates = data[date_column].to_list()
            for idx, date in enumerate(dates):  # <- site
                date_indices[date].append(idx)
            return date_indices
        ''',
        note="a polars column turned into a list first",
    ),
    RealSite(
        "facebookresearch/Kats", "kats/models/metalearner/metalearner_modelselect.py",
        "b71b6ad9727e424539cc09c6c5c80a671de08dec", 565, "fix",
        '''
        from collections import Counter, defaultdict

        import pandas as pd


        class RandomDownSampler:
            def __init__(self, hpt: pd.Series, dataX: pd.DataFrame, dataY: pd.Series) -> None:
                self.hpt = hpt
                self.dataX = dataX
                self.dataY = dataY

            def fit_resample(self):
                min_n = min(Counter(self.dataY).values())
                idx_dict = defaultdict(list)
                for i, c in enumerate(self.dataY):  # <- site
                    idx_dict[c].append(i)
                return idx_dict, min_n
        ''',
        note="enumerate(self.dataY) with self.dataY a pd.Series set in __init__",
    ),
    RealSite(
        GOGOOKU, "src/data/safety/walk_forward_v2.py", GOGOOKU_COMMIT, 435, "none",
        '''
        def group(dates, indices):
            day_to_indices = {}
            dates_list = dates.tolist()
            for i, date_val in enumerate(dates_list):  # <- site
                if date_val not in day_to_indices:
                    day_to_indices[date_val] = []
                day_to_indices[date_val].append(indices[i])
            return day_to_indices
        ''',
        note="appends indices[i], not the position; over a list",
    ),
    RealSite(
        "microsoft/qlib", "qlib/contrib/data/dataset.py", "d5379c520f66a39953bad76234a7019a72796fd0", 195, "none",
        '''
        def daily(self):
            daily_slices = {date: [] for date in sorted(self._index.unique(level=1))}
            for i, (code, date) in enumerate(self._index):  # <- site
                daily_slices[date].append(self._batch_slices[i])
            return daily_slices
        ''',
    ),
    RealSite(
        "stanfordnlp/dspy", "dspy/teleprompt/utils.py", "4ed377ee9110e912d4f5e1be43b317b87455053c", 411, "none",
        '''
        def collect(student, program2, demo_candidates):
            for i, _ in enumerate(student.predictors()):  # <- site
                demo_candidates[i].append(program2.predictors()[i].demos)
        ''',
    ),
    RealSite(
        "ludwig-ai/ludwig", "ludwig/benchmarking/profiler.py", "5d19f3e632124e2f92266faca773047aeeeb0da4", 100, "none",
        '''
        def gpu_usage(info, gpu_infos):
            for i, gpu_info in enumerate(gpu_infos):  # <- site
                gpu_key = f"cuda_{i}"
                info[f"{gpu_key}_memory_used"].append(gpu_info.memory_used)
        ''',
    ),
    RealSite(
        "facebookresearch/Kats", "kats/detectors/cusum_model.py", "b71b6ad9727e424539cc09c6c5c80a671de08dec", 1329, "none",
        '''
        import numpy as np


        def masks(cps, n, m):
            mask1 = np.ones((n, m), dtype=bool)
            for i, cp in enumerate(cps):  # <- site
                if cp is not None:
                    mask1[(cp.cp_index + 1) :, i] = False
            return mask1
        ''',
    ),
    RealSite(
        "microsoft/qlib", "examples/benchmarks/TRA/src/dataset.py", "d5379c520f66a39953bad76234a7019a72796fd0", 143, "none",
        '''
        from collections import defaultdict


        def daily(self, act_index):
            daily_slices = defaultdict(list)
            for i, (code, date) in enumerate(act_index):  # <- site
                daily_slices[date].append(self.batch_slices[i])
            return daily_slices
        ''',
    ),
)
