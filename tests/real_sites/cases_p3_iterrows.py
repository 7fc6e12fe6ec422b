"""P3: dicts, lists and sets built row by row from `iterrows()` (PFL201, PFL205; PFL203 for read-only loops).

Labelled before perflint ran on them. Principle: a site is a finding when `iterrows()` only serves to read
columns (`fix` when the built value is plain columns, `str`/`int` of them or tuples of them; `report` when
it is computed from columns); a site that needs the row itself (`row.to_dict()`, `row.to_numpy()`, passing
`row` on) is `none`. Snippets keep the site's shape, shortened.
"""

from tests.real_sites.site import Pattern, RealSite

PATTERN = Pattern("P3 iterrows builds", ("PFL201", "PFL205", "PFL203"))

GOGOOKU = "wer-inc/gogooku3"
GOGOOKU_COMMIT = "62e0061d2961a87abb5a27701d787db913df431e"

CASES = (
    RealSite(
        GOGOOKU, "scripts/train_atft.py", GOGOOKU_COMMIT, 6886, "fix",
        '''
        def load_maps(dfm, code_col, m_col, market_candidates):
            m_use = _resolve_value_col(dfm, m_col, market_candidates)
            if m_use:
                code2market = {str(r[code_col]): str(r[m_use]) for _, r in dfm[[code_col, m_use]].iterrows()}  # <- site
                logger.info(f"[CodeMap] loaded {len(code2market)} market mappings")
        ''',
        note="the seed pipeline's code map: labels in variables, a column subset",
    ),
    RealSite(
        GOGOOKU, "scripts/train_atft.py", GOGOOKU_COMMIT, 6897, "fix",
        '''
        def load_maps(dfs, code_col, s_col, sector_candidates):
            s_use = _resolve_value_col(dfs, s_col, sector_candidates)
            if s_use:
                code2sector = {str(r[code_col]): str(r[s_use]) for _, r in dfs[[code_col, s_use]].iterrows()}  # <- site
                logger.info(f"[CodeMap] loaded {len(code2sector)} sector mappings")
        ''',
    ),
    RealSite(
        GOGOOKU, "scripts/train_atft_fixed.py", GOGOOKU_COMMIT, 6876, "fix",
        '''
        def load_maps(dfm, code_col, m_use):
            if m_use:
                code2market = {str(r[code_col]): str(r[m_use]) for _, r in dfm[[code_col, m_use]].iterrows()}  # <- site
            return code2market
        ''',
    ),
    RealSite(
        GOGOOKU, "scripts/train_atft_fixed.py", GOGOOKU_COMMIT, 6887, "fix",
        '''
        def load_maps(dfs, code_col, s_use):
            if s_use:
                code2sector = {str(r[code_col]): str(r[s_use]) for _, r in dfs[[code_col, s_use]].iterrows()}  # <- site
            return code2sector
        ''',
    ),
    RealSite(
        GOGOOKU, "scripts/train_atft.py", "b15594f135b646ab2fca2a3934dcf46320f253c5", 9336, "fix",
        '''
        def load_maps(dfm, code_col, m_col, market_candidates):
            m_use = _resolve_value_col(dfm, m_col, market_candidates)
            if m_use:
                code2market = {  # <- site
                    str(r[code_col]): str(r[m_use])
                    for _, r in dfm[[code_col, m_use]].iterrows()
                }
                logger.info(f"[CodeMap] loaded {len(code2market)} market mappings")
        ''',
        note="the same map, multi-line",
    ),
    RealSite(
        GOGOOKU, "scripts/ml/create_portfolio.py", GOGOOKU_COMMIT, 174, "report",
        '''
        def add_positions(portfolio, top_stocks, sector):
            portfolio["positions"].extend([{  # <- site
                "code": stock["Code"],
                "sector": sector,
                "weight": 0,
                "predicted_return_pct": stock["predicted_return_pct"],
            } for _, stock in top_stocks.iterrows()])
        ''',
        note="dicts computed from columns: to_dict('records') of a selection, not a column read",
    ),
    RealSite(
        GOGOOKU, "src/gogooku3/cli.py", GOGOOKU_COMMIT, 243, "report",
        '''
        import pandas as pd

        def read_labels(labels_df):
            label_ranges = [  # <- site
                {
                    "id": str(row["id"]),
                    "start": pd.to_datetime(row["start"]),
                    "end": pd.to_datetime(row["end"]),
                }
                for _, row in labels_df.iterrows()
            ]
            return label_ranges
        ''',
    ),
    RealSite(
        "BharathSShankar/Patient-Rep-UROPS", "Data-Preprocessing/get_SubDOB.py",
        "0d99bd13891e292d79bb678ff53b846acd5322c0", 13, "fix",
        '''
        import pandas as pd

        pat_dat = pd.read_csv("../data/patientData/PATIENTS.csv")
        Sub_DOB_mapping = {}
        for ind, row in pat_dat[["SUBJECT_ID", "DOB"]].iterrows():  # <- site
            Sub_DOB_mapping[row.SUBJECT_ID] = row.DOB
        Sub_DOB_mapping = pd.DataFrame.from_dict(Sub_DOB_mapping, orient="index", columns=["DOB"])
        ''',
    ),
    RealSite(
        "BharathSShankar/Patient-Rep-UROPS", "Data-Preprocessing/split_Data.py",
        "0d99bd13891e292d79bb678ff53b846acd5322c0", 11, "fix",
        '''
        import pandas as pd

        pat_dat = pd.read_csv("../data/patientData/PATIENTS.csv")
        Sub_DOB_mapping = {}
        for ind, row in pat_dat[["SUBJECT_ID", "DOB"]].iterrows():  # <- site
            Sub_DOB_mapping[row.SUBJECT_ID] = row.DOB

        print(len(Sub_DOB_mapping))
        ''',
    ),
    RealSite(
        "AlgorithmsAndHeuristics/ChipsAndCircuits", "code/classes/netlist.py",
        "72d2d9b03be6f64ab76fe93bea00d4953cb14063", 17, "fix",
        '''
        import pandas as pd

        class Netlist():
            def __init__(self, netlist_path: str, print0_path: str):
                df = pd.read_csv(netlist_path)
                self.nets = [(net['chip_a'], net['chip_b']) for idx, net in df.iterrows()]  # <- site
        ''',
    ),
    RealSite(
        "AlgorithmsAndHeuristics/ChipsAndCircuits", "code/classes/netlist.py",
        "2fb4920aa9c28bebcee8fd06eebf86a8674d429a", 14, "report",
        '''
        import pandas as pd

        class Netlist():
            def __init__(self, netlist_path: str):
                df = pd.read_csv(netlist_path)
                self.nets = [Net(net['chip_a'], net['chip_b']) for _, net in df.iterrows()]  # <- site
        ''',
        note="objects built from two columns: zip the columns, no exact one-call form",
    ),
    RealSite(
        "AlgorithmsAndHeuristics/ChipsAndCircuits", "code/classes/netlist.py",
        "2790cdce231b2775e1b15b8afbf7c55d701fc859", 16, "report",
        '''
        import pandas as pd

        class Netlist():
            def __init__(self, netlist_path: str, gates: dict):
                df = pd.read_csv(netlist_path)
                self.nets = { i: Net(gates[net['chip_a']], gates[net['chip_b']]) for i, net in df.iterrows() }  # <- site
        ''',
    ),
    RealSite(
        "facebookresearch/Kats", "kats/detectors/detector_consts.py",
        "b71b6ad9727e424539cc09c6c5c80a671de08dec", 87, "report",
        '''
        def get_spikes(self, df):
            spike_df = df.query(f"z_score >={self.spike_std_threshold}")
            return [  # <- site
                SingleSpike(
                    time=row["time"], value=row["value"], n_sigma=row["z_score"]
                )
                for counter, row in spike_df.iterrows()
            ]
        ''',
    ),
    RealSite(
        "facebookresearch/Kats", "kats/detectors/detector_consts.py",
        "b71b6ad9727e424539cc09c6c5c80a671de08dec", 109, "report",
        '''
        def get_spikes(self, df, c, spikes):
            spike_df = df.query(f"z_score_{c} >={self.spike_std_threshold}")
            spikes.append(
                [  # <- site
                    SingleSpike(
                        time=row["time"],
                        value=row[c],
                        n_sigma=row[f"z_score_{c}"],
                    )
                    for counter, row in spike_df.iterrows()
                ]
            )
        ''',
    ),
    RealSite(
        "microsoft/qlib", "examples/orderbook_data/create_dataset.py",
        "d5379c520f66a39953bad76234a7019a72796fd0", 115, "report",
        '''
        def extract(df):
            df["ab"] = [  # <- site
                ",".join([str(int(row["ab" + str(i + 1)])) for i in range(0, row["ab_items"])])
                for timestamp, row in df.iterrows()
            ]
            return df
        ''',
    ),
    RealSite(
        "stanfordnlp/dspy", "dspy/datasets/dataloader.py",
        "4ed377ee9110e912d4f5e1be43b317b87455053c", 87, "report",
        '''
        def from_pandas(self, df, fields, input_keys):
            return [  # <- site
                dspy.Example({field: row[field] for field in fields}).with_inputs(*input_keys) for _, row in df.iterrows()
            ]
        ''',
        note="the records of a column selection: df[fields].to_dict('records') is the vectorised form",
    ),
    RealSite(
        "awslabs/gluonts", "src/gluonts/nursery/tsbench/src/tsbench/surrogate/transformers/performance.py",
        "3d05d465f97096583d87a6827948e0d0d3cb7e92", 122, "none",
        '''
        def inverse_transform(self, df):
            return [  # <- site
                Performance.from_dict(row.to_dict()) for _, row in df.iterrows()
            ]
        ''',
        note="the whole row is converted: not a column read",
    ),
    RealSite(
        "ludwig-ai/ludwig", "ludwig/datasets/loaders/forest_cover.py",
        "5d19f3e632124e2f92266faca773047aeeeb0da4", 119, "none",
        '''
        def soil_types(df, st_cols):
            st_vals = []
            for _, row in df[st_cols].iterrows():  # <- site
                st_vals.append(row.to_numpy().nonzero()[0].item(0))
            return st_vals
        ''',
        note="the row as an array: a row-wise argmax, not column reads",
    ),
)
