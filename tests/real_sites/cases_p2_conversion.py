"""P2, repeated host conversion: real sites, labelled before perflint ran on them.

Found with the search tool (code corpus: `.cpu().numpy()` repeated on one name, metric helpers converting a
parameter), read in the repository snapshots at the commits given. Snippets keep the site's shape, not its text.
"""

from tests.real_sites.site import Pattern, RealSite

PATTERN = Pattern("P2 repeated host conversion", ("PFL102", "PFL106"))

CLD = "nv-tlabs/CLD-SGM"
CLD_COMMIT = "43dc5681e4c6350a02c4ca6bf6e370dc592cfec9"
CORRECTOR = "KevinRojas1499/CLD-SGM-Corrector"
CORRECTOR_COMMIT = "95bea9c3f92e4aa820aa045ee1e848c583f38d69"
PYRO = "pyro-ppl/pyro"
PYRO_COMMIT = "ff6ae1c9572591791aae8842bcd702fcf0b46fd6"
TORCHMETRICS = "Lightning-AI/torchmetrics"
TORCHMETRICS_COMMIT = "dab033394560ab3ce05e3d14c13f32e4cde6b351"
TRANSQUEST = "TharinduDR/TransQuest"
TRANSQUEST_COMMIT = "cf2d73cdce60f31d15b07148785a7adaf662ef1c"

CASES = [
    RealSite(
        CLD, "run_lib_toy.py", CLD_COMMIT, 168, "fix",
        """
        def train(config, sampling_fn, score_model, step):
            if step % config.snapshot_freq == 0:
                x, v, nfe = sampling_fn(score_model)
                plt.scatter(x.cpu().numpy()[:, 0], x.cpu().numpy()[:, 1], s=3)  # <- site
                plt.close()
        """,
        "two device-to-host copies of the CUDA samples for one scatter plot",
    ),
    RealSite(
        CLD, "run_lib_toy.py", CLD_COMMIT, 289, "fix",
        """
        def evaluate(config, sampling_fn, score_model):
            if config.eval_sample:
                x, _, nfe = sampling_fn(score_model)
                plt.scatter(x.cpu().numpy()[:, 0], x.cpu().numpy()[:, 1], s=3)  # <- site
                plt.savefig("sample.png")
        """,
    ),
    RealSite(
        CLD, "run_lib_toy.py", CLD_COMMIT, 174, "none",
        """
        def train(config, x, v, sample_dir):
            if config.sde == 'cld':
                np.save(sample_dir + 'sample_x', x.cpu())  # <- site
                np.save(sample_dir + 'sample_v', v.cpu())
            else:
                np.save(sample_dir + 'sample', x.cpu())
        """,
        "the two `x.cpu()` are in different arms: one runs",
    ),
    RealSite(
        CLD, "run_lib.py", CLD_COMMIT, 205, "none",
        """
        def train(config, x, v, this_sample_dir):
            if config.sde == 'uld':
                np.save(this_sample_dir + 'sample_x', x.cpu())  # <- site
                np.save(this_sample_dir + 'sample_v', v.cpu())
            else:
                np.save(this_sample_dir + 'sample', x.cpu())
        """,
    ),
    RealSite(
        CORRECTOR, "run_lib_toy.py", CORRECTOR_COMMIT, 176, "fix",
        """
        def train(config, x, this_sample_dir):
            if config.data_dim == 2:
                plt.scatter(x.cpu().numpy()[:, 0], x.cpu().numpy()[:, 1], s=3)  # <- site
                plt.close()
            elif config.data_dim == 1:
                plt.hist(x.cpu().numpy(), 200)
                plt.close()
        """,
    ),
    RealSite(
        CORRECTOR, "sampling.py", CORRECTOR_COMMIT, 46, "fix",
        """
        def make_image(u, path, path_speed, color):
            x, v = torch.chunk(u, 2, dim=1)
            plt.scatter(x.cpu().numpy()[:, 0], x.cpu().numpy()[:, 1], color=color, s=3)  # <- site
            plt.savefig(path)
            plt.close()
        """,
    ),
    RealSite(
        CORRECTOR, "sampling.py", CORRECTOR_COMMIT, 51, "fix",
        """
        def make_image(u, path, path_speed, color):
            x, v = torch.chunk(u, 2, dim=1)
            plt.savefig(path)
            plt.scatter(v.cpu().numpy()[:, 0], v.cpu().numpy()[:, 1], color=color, s=3)  # <- site
            plt.savefig(path_speed)
        """,
    ),
    RealSite(
        TRANSQUEST, "transquest/algo/sentence_level/monotransquest/run_model.py", TRANSQUEST_COMMIT, 1378, "none",
        """
        def predict(self, logits, preds):
            if preds is None:
                preds = logits.detach().cpu().numpy()  # <- site
            else:
                preds = np.append(preds, logits.detach().cpu().numpy(), axis=0)
            return preds
        """,
        "first batch vs later batches: different arms",
    ),
    RealSite(
        TRANSQUEST, "transquest/algo/word_level/microtransquest/run_model.py", TRANSQUEST_COMMIT, 859, "none",
        """
        def evaluate(self, logits, inputs, preds):
            if preds is None:
                preds = logits.detach().cpu().numpy()  # <- site
                out_label_ids = inputs["labels"].detach().cpu().numpy()
            else:
                preds = np.append(preds, logits.detach().cpu().numpy(), axis=0)
            return preds
        """,
    ),
    RealSite(
        PYRO, "examples/sparse_regression.py", PYRO_COMMIT, 156, "none",
        """
        def compute_posterior_stats(active_dims, mu):
            print(mu[active_dims].data.numpy())
            if len(active_dims) < 2:
                return active_dims.data.numpy(), []  # <- site
            quadratic = [tuple(a.tolist()[0]) for a in mu]
            return active_dims.data.numpy(), quadratic
        """,
        "an early return and the final return: one runs (and `.data` makes it an attribute chain)",
    ),
    RealSite(
        PYRO, "tests/contrib/funsor/test_enum_funsor.py", PYRO_COMMIT, 39, "fix",
        """
        def _check_loss_and_grads(expected_loss, actual_loss):
            assert_equal(
                actual_loss,
                expected_loss,
                msg="Expected:\\n{}\\nActual:\\n{}".format(
                    expected_loss.detach().cpu().numpy(), actual_loss.detach().cpu().numpy()  # <- site
                ),
            )
            if "TEST_ENUM_PYRO_BACKEND" in os.environ:
                logging.debug(
                    "Expected:\\n{}\\nActual:\\n{}".format(
                        expected_loss.detach().cpu().numpy(), actual_loss.detach().cpu().numpy()
                    )
                )
        """,
        "the first conversion runs unconditionally; the repeat under an `if`",
    ),
    RealSite(
        PYRO, "tests/distributions/test_coalescent.py", PYRO_COMMIT, 30, "none",
        """
        def test_sample_is_valid(num_leaves):
            leaf_times = torch.randn(num_leaves)
            coal_times = _sample_coalescent_times(leaf_times)
            assert len(set(coal_times.tolist())) == len(coal_times)  # <- site
            leaf_times = torch.zeros(num_leaves)
            coal_times = _sample_coalescent_times(leaf_times)
            assert len(set(coal_times.tolist())) == len(coal_times)
        """,
        "`coal_times` is rebound between: two different tensors",
    ),
    RealSite(
        PYRO, "tests/params/test_param.py", PYRO_COMMIT, 81, "fix",
        """
        def test_save_and_load(self, myparam_copy, myparam_copy_stale):
            myparam = pyro.param("myparam")
            store = pyro.get_param_store()
            assert myparam_copy_stale != myparam.detach().cpu().numpy()  # <- site
            assert myparam_copy == myparam.detach().cpu().numpy()
        """,
    ),
    RealSite(
        TORCHMETRICS, "src/torchmetrics/functional/audio/dnsmos.py", TORCHMETRICS_COMMIT, 250, "none",
        """
        def deep_noise_suppression_mean_opinion_score(preds, fs, desired_fs):
            if fs != desired_fs:
                audio = librosa.resample(preds.cpu().numpy(), orig_sr=fs, target_sr=desired_fs)  # <- site
            else:
                audio = preds.cpu().numpy()
            return audio
        """,
    ),
    RealSite(
        TORCHMETRICS, "src/torchmetrics/functional/segmentation/utils.py", TORCHMETRICS_COMMIT, 361, "none",
        """
        def distance_transform(x, sampling, metric):
            from scipy import ndimage
            if metric == "euclidean":
                return ndimage.distance_transform_edt(x.cpu().numpy(), sampling)  # <- site
            return ndimage.distance_transform_cdt(x.cpu().numpy(), sampling, metric=metric)
        """,
    ),
    RealSite(
        TORCHMETRICS, "src/torchmetrics/utilities/plot.py", TORCHMETRICS_COMMIT, 105, "none",
        """
        def plot_single_or_multi_val(ax, val, legend_name):
            if val.numel() == 1:
                ax.plot([val.detach().cpu()], marker="o")
            else:
                for i, v in enumerate(val):
                    ax.plot(i, v.detach().cpu(), marker="o", label=f"{legend_name} {i}")  # <- site
        """,
        "one conversion per loop variable: nothing repeated",
    ),
    RealSite(
        TORCHMETRICS, "tests/unittests/classification/test_calibration_error.py", TORCHMETRICS_COMMIT, 266, "fix",
        """
        def test_corner_case_due_to_dtype(preds, target):
            assert np.allclose(
                ECE(99).measure(preds.numpy(), target.numpy()), binary_calibration_error(preds, target, n_bins=99)  # <- site
            ), "close to netcal"
            assert np.allclose(
                ECE(100).measure(preds.numpy(), target.numpy()), binary_calibration_error(preds, target, n_bins=100)
            ), "close to netcal"
        """,
    ),
    RealSite(
        "yihua7/A-journey-to-pytorch", "Week2-Classification.py", "d56ae90857fe2f9a9a570f9290a81748c20ff0cb", 52, "none",
        """
        for t in range(100):
            if t % 2 == 0:
                pred_y = prediction.data.numpy()
                plt.scatter(x.data.numpy()[:, 0], x.data.numpy()[:, 1], c=pred_y, s=100)  # <- site
        """,
        "module-level training script: outside the pattern (repeats in one function); `.data` attribute chain",
    ),
]
