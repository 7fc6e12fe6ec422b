"""P1: `.cpu()` copies kept with a graph, the wrong `.cpu().detach()` order, and their look-alikes.

Sites found with the code search (`.cpu().detach()`, `append(` + `.cpu()`, `x = y.cpu()`) in four public
repositories, each labelled before perflint ran on it:

- ``fix``: `.cpu().detach()` anywhere in a chain (the reorder is exact), or a copy of a computed float tensor kept
  across batches where no grad-off context is visible;
- ``report``: a computed float tensor kept inside a visible `no_grad` (a finding by RULES.md, "detach is
  defensive"; no fix is needed);
- ``none``: integer or bool tensors (nothing to detach), values already detached or from `.data` / `.grad`, modules,
  data tensors from a loader, and copies that are not kept.
"""

from __future__ import annotations

from tests.real_sites.site import Pattern, RealSite

PATTERN = Pattern("P1 .cpu() kept with a graph", ("PFL101",))

DL_LOG = "A1ex-Chen/DL_project_log"
DL_LOG_COMMIT = "f745f0cb1a9a8f8e0ee331380148dd8c8d8cab1d"
STEP_BY_STEP = "dvgodoy/PyTorchStepByStep"
STEP_BY_STEP_COMMIT = "d837dec7250dae20d247634c4aba63791bd89b2f"
AITOOLBOX = "mv1388/aitoolbox"
AITOOLBOX_COMMIT = "6b9bcfda24022f3fcec62933c773a2809dca3a39"
JAQPOT = "ntua-unit-of-control-and-informatics/jaqpotpy"
JAQPOT_COMMIT = "0ecd59d9ceccbcce2cded9db26eb7690b0214a14"

CASES = [
    # --- `.cpu().detach()` in a conversion chain: reorder (fix) ---
    RealSite(
        STEP_BY_STEP, "plots/chapter10.py", STEP_BY_STEP_COMMIT, 6, "fix",
        """
        import torch

        def hist_encoding(encoding):
            encoding = encoding.cpu().detach().numpy()  # <- site
            return encoding
        """,
    ),
    RealSite(
        STEP_BY_STEP, "plots/replay.py", STEP_BY_STEP_COMMIT, 528, "fix",
        """
        import torch

        def get_intermediate_values(model, x):
            visualization = {}
            def hook_fn(m, i, o):
                visualization[m] = o.cpu().detach().numpy()  # <- site
            return hook_fn
        """,
        note="forward hook: the output carries the graph when grad is on",
    ),
    RealSite(
        DL_LOG, "dataset/4D-Compositional-Representation/lib/utils/torchdiffeq/examples/odenet_mnist_accuracy.py",
        DL_LOG_COMMIT, 7, "fix",
        """
        import numpy as np
        import torch

        def accuracy(model, dataset_loader):
            total_correct = 0
            for x, y in dataset_loader:
                predicted_class = np.argmax(model(x).cpu().detach().numpy(), axis=1)  # <- site
                total_correct += np.sum(predicted_class == y)
            return total_correct
        """,
    ),
    RealSite(
        DL_LOG, "dataset/4D-Compositional-Representation/lib/utils/torchdiffeq/examples/ode_demo_visualize.py",
        DL_LOG_COMMIT, 32, "fix",
        """
        import torch

        def visualize(odefunc, a, b):
            dydt = odefunc(a, b).cpu().detach().numpy()  # <- site
            return dydt
        """,
    ),
    RealSite(
        DL_LOG,
        "dataset/Ryan-code/diffusion_lora_for_fun/diffusers/examples/research_projects/rdm/retriever_map_txt_to_clip_feature.py",
        DL_LOG_COMMIT, 17, "fix",
        """
        import torch

        def map_txt_to_clip_feature(clip_model, text_input_ids):
            text_embeddings = clip_model.get_text_features(text_input_ids)
            text_embeddings = text_embeddings / torch.linalg.norm(text_embeddings, dim=-1, keepdim=True)
            return text_embeddings[0][0].cpu().detach().numpy()  # <- site
        """,
    ),
    RealSite(
        DL_LOG, "dataset/Ryan-code/diffusion_lora_for_fun/diffusers/examples/community/text_inpainting___call__.py",
        DL_LOG_COMMIT, 72, "fix",
        """
        import torch

        def call(self, inputs):
            outputs = self.segmentation_model(**inputs)
            mask = torch.sigmoid(outputs.logits).cpu().detach().unsqueeze(-1).numpy()  # <- site
            return mask
        """,
    ),
    RealSite(
        DL_LOG, "dataset/FL_GAN/VAE/simulation_get_evaluate_fn.py", DL_LOG_COMMIT, 34, "fix",
        """
        import numpy as np
        import torch

        def evaluate(model, images):
            recon_images, _, _ = model(images)
            predictions = recon_images[:16]
            for i in range(predictions.shape[0]):
                img = np.transpose(predictions[i, :, :].cpu().detach().numpy(), axes=[1, 2, 0])  # <- site
                show(img)
        """,
    ),
    RealSite(
        DL_LOG, "dataset/Ryan-code/diffusion_lora_for_fun/diffusers/examples/community/run_onnx_controlnet___call__.py",
        DL_LOG_COMMIT, 231, "fix",
        """
        import torch

        def decode(self, latents, output_type):
            if not output_type == "latent":
                _latents = latents.cpu().detach().numpy() / 0.18215  # <- site
                return _latents
        """,
    ),
    RealSite(
        DL_LOG, "dataset/ConsistencyTTA/audioldm/ldm_mel_spectrogram_to_waveform.py", DL_LOG_COMMIT, 6, "fix",
        """
        import torch

        def mel_spectrogram_to_waveform(self, mel):
            mel = mel.permute(0, 2, 1)
            waveform = self.first_stage_model.vocoder(mel)
            waveform = waveform.cpu().detach().numpy()  # <- site
            return waveform
        """,
    ),
    RealSite(
        DL_LOG, "dataset/GenderBias-VL/lvlm_inference/LAMM/src/model/LAMM/EPCL/utils/ap_calculator_step.py",
        DL_LOG_COMMIT, 8, "fix",
        """
        import torch

        def step(self, gt_box_corners, gt_box_sem_cls_labels):
            gt_box_corners = gt_box_corners.cpu().detach().numpy()
            gt_box_sem_cls_labels = gt_box_sem_cls_labels.cpu().detach().numpy()  # <- site
            return gt_box_corners, gt_box_sem_cls_labels
        """,
        note="labels are integers: the reorder changes nothing but is exact; the chain's order is the finding",
    ),
    # --- computed values kept across batches ---
    RealSite(
        DL_LOG,
        "dataset/GenderBias-VL/lvlm_inference/LAMM/src/ChEF/models/instruct_blip/models/blip2_models/blip2_compute_sim_matrix.py",
        DL_LOG_COMMIT, 33, "fix",
        """
        import torch
        import torch.nn.functional as F

        def compute_sim_matrix(model, data_loader):
            vit_feats = []
            image_embeds = []
            for samples in data_loader:
                image_feat, vit_feat = model.forward_image(samples["image"])
                image_embed = F.normalize(model.vision_proj(image_feat), dim=-1)
                vit_feats.append(vit_feat.cpu())  # <- site
                image_embeds.append(image_embed)
            return torch.cat(vit_feats, dim=0)
        """,
        note="no grad-off context visible in the function",
    ),
    RealSite(
        DL_LOG, "dataset/ConsistencyTTA/laion_clap/training/train_evaluate.py", DL_LOG_COMMIT, 89, "report",
        """
        import torch

        def evaluate(model, dataloader, eval_info):
            with torch.no_grad():
                for batch in dataloader:
                    audio_features, text_features, audio_features_mlp, text_features_mlp = model(batch)
                    eval_info["all"]["all_audio_features_mlp"].append(audio_features_mlp.cpu())  # <- site
        """,
        note="inside no_grad: defensive only",
    ),
    RealSite(
        DL_LOG, "dataset/pycharmprojects/src/aibox/lib/task/classification/evaluator_predict.py", DL_LOG_COMMIT, 19,
        "report",
        """
        import torch

        @torch.no_grad()
        def predict(self, model):
            all_pred_classes, all_pred_probs = [], []
            for item_batch in self._dataloader:
                pred_prob_batch, pred_class_batch = model.eval().forward(item_batch)
                for b, item in enumerate(item_batch):
                    pred_prob = pred_prob_batch[b]
                    all_pred_probs.append(pred_prob.cpu())  # <- site
            return all_pred_probs
        """,
        note="probabilities under @torch.no_grad(): defensive only",
    ),
    RealSite(
        DL_LOG, "dataset/Benchmarks/examples/image-vae/main_test.py", DL_LOG_COMMIT, 41, "report",
        """
        import torch

        def test(model, sample_vecs):
            images = []
            with torch.no_grad():
                for sample_vec in sample_vecs:
                    images.append(model.decode(sample_vec).cpu())  # <- site
            return torch.cat(images)
        """,
        note="inside no_grad: defensive only",
    ),
    # --- look-alikes ---
    RealSite(
        DL_LOG, "dataset/pycharmprojects/src/aibox/lib/task/classification/evaluator_predict.py", DL_LOG_COMMIT, 18,
        "none",
        """
        import torch

        @torch.no_grad()
        def predict(self, model):
            all_pred_classes = []
            for item_batch in self._dataloader:
                pred_prob_batch, pred_class_batch = model.eval().forward(item_batch)
                for b, item in enumerate(item_batch):
                    pred_class = pred_class_batch[b]
                    all_pred_classes.append(pred_class.cpu())  # <- site
            return all_pred_classes
        """,
        note="class indices (integers) under no_grad: nothing to detach; the dtype is not visible",
    ),
    RealSite(
        DL_LOG, "dataset/Yolo_Improve/ultralytics/models/yolo/segment/val_update_metrics.py", DL_LOG_COMMIT, 39, "none",
        """
        import torch

        def update_metrics(self, pred, pbatch, proto):
            predn, pred_masks = self._prepare_pred(pred, pbatch, proto)
            pred_masks = torch.as_tensor(pred_masks, dtype=torch.uint8)
            if self.args.plots and self.batch_i < 3:
                self.plot_masks.append(pred_masks[:15].cpu())  # <- site
        """,
        note="uint8 masks cannot require grad",
    ),
    RealSite(
        DL_LOG, "dataset/Yolo_Improve/ultralytics/models/yolo/classify/val_update_metrics.py", DL_LOG_COMMIT, 6, "none",
        """
        import torch

        def update_metrics(self, preds, batch):
            self.pred.append(preds.argsort(1, descending=True)[:, :5])
            self.targets.append(batch["cls"].type(torch.int32).cpu())  # <- site
        """,
        note="int32 targets cannot require grad",
    ),
    RealSite(
        DL_LOG, "dataset/Benchmarks/examples/rnngen/infer_sample.py", DL_LOG_COMMIT, 22, "none",
        """
        import torch

        def sample(model, c2i, device, batch_size=10, max_len=150):
            with torch.no_grad():
                x = torch.tensor(c2i("<")).unsqueeze(0).unsqueeze(0).repeat((max_len, batch_size)).to(device)
                end_pads = torch.tensor([max_len - 1]).repeat(batch_size).to(device)
                new_x = []
                for i in range(x.size(1)):
                    new_x.append(x[:end_pads[i], i].cpu())  # <- site
                return new_x
        """,
        note="token ids (integers) under no_grad",
    ),
    RealSite(
        DL_LOG, "dataset/DeepView.Profile/examples/gnmt/seq2seq/inference/inference_evaluate.py", DL_LOG_COMMIT, 46,
        "none",
        """
        import torch

        def evaluate(self, loader):
            for i, (src, indices) in enumerate(loader):
                with torch.no_grad():
                    preds, lengths, counter = self.generator(src)
                preds = gather_predictions(preds).cpu()  # <- site
                for pred in preds:
                    self.output.append(pred.tolist())
        """,
        note="token ids, converted within the iteration",
    ),
    RealSite(
        STEP_BY_STEP, "helpers.py", STEP_BY_STEP_COMMIT, 115, "none",
        """
        import torch

        def preprocessed_dataset(model, loader):
            features = None
            labels = None
            for i, (x, y) in enumerate(loader):
                output = model(x)
                if i == 0:
                    features = output.detach().cpu()
                    labels = y.cpu()  # <- site
                else:
                    features = torch.cat([features, output.detach().cpu()])
                    labels = torch.cat([labels, y.cpu()])
            return features, labels
        """,
        note="labels from the loader: no graph",
    ),
    RealSite(
        STEP_BY_STEP, "stepbystep/v3.py", STEP_BY_STEP_COMMIT, 343, "none",
        """
        import torch

        def capture(self, layer_names):
            def hook_fn(layer, inputs, outputs):
                values = outputs.detach().cpu().numpy()  # <- site
                self.visualization[layer_names[layer]] = values
            return hook_fn
        """,
    ),
    RealSite(
        STEP_BY_STEP, "stepbystep/v3.py", STEP_BY_STEP_COMMIT, 305, "none",
        """
        import torch

        def weights(self, layers):
            kept = {}
            for name, layer in layers:
                weights = layer.weight.data.cpu().numpy()  # <- site
                kept[name] = weights
            return kept
        """,
    ),
    RealSite(
        AITOOLBOX, "tests/test_torchtrain/test_callbacks/test_gradient_callbacks.py", AITOOLBOX_COMMIT, 62, "none",
        """
        import torch

        def test_gradients(model, loss):
            loss.backward()
            gradients_l1 = model.l1.weight.grad.cpu().numpy()  # <- site
            return gradients_l1
        """,
        note="a .grad does not require grad",
    ),
    RealSite(
        AITOOLBOX, "aitoolbox/torchtrain/train_loop/train_loop.py", AITOOLBOX_COMMIT, 780, "none",
        """
        import torch

        def predict_on_dataset(self, y_pred, y_test, move_to_cpu):
            if move_to_cpu:
                y_pred = y_pred.cpu()  # <- site
                y_test = y_test.cpu()
            return y_pred, y_test
        """,
        note="predictions already collected; one copy, not in a loop",
    ),
    RealSite(
        JAQPOT, "jaqpotpy/models/torch_geometric_models/graph_neural_network.py", JAQPOT_COMMIT, 33, "none",
        """
        import torch

        def pyg_to_onnx(torch_model, featurizer):
            torch_model = torch_model.cpu()  # <- site
            torch_model.eval()
            return torch_model
        """,
        note="a module",
    ),
    # --- a second sample, labelled after the rule's no_grad evidence change (sites not seen before it) ---
    RealSite(
        DL_LOG, "dataset/GenderBias-VL/lvlm_inference/LAMM/src/model/LAMM/EPCL/utils/box_ops3d_generalized_box3d_iou_tensor_non_diff.py",
        DL_LOG_COMMIT, 47, "fix",
        """
        import numpy as np
        import torch

        def generalized_box3d_iou(rect1, rect2, nums_k2, rotated_boxes):
            if rotated_boxes:
                rect1 = rect1.cpu().detach().numpy()
                rect2 = rect2.cpu().detach().numpy()  # <- site
                return rect1, rect2
        """,
    ),
    RealSite(
        DL_LOG, "dataset/GenderBias-VL/lvlm_inference/LAMM/src/model/LAMM/EPCL/utils/box_ops3d_generalized_box3d_iou_tensor_non_diff.py",
        DL_LOG_COMMIT, 48, "none",
        """
        import numpy as np
        import torch

        def generalized_box3d_iou(rect1, nums_k2, rotated_boxes):
            if rotated_boxes:
                nums_k2_np = nums_k2.cpu().numpy()  # <- site
                return nums_k2_np
        """,
        note="no evidence that the value requires grad",
    ),
    RealSite(
        DL_LOG, "dataset/Ryan-code/diffusion_lora_for_fun/diffusers/examples/community/run_onnx_controlnet___call__.py",
        DL_LOG_COMMIT, 201, "fix",
        """
        import numpy as np
        import torch

        def call(self, latent_model_input, prompt_embeds, np_dtype):
            _latent_model_input = latent_model_input.cpu().detach().numpy()  # <- site
            _prompt_embeds = np.array(prompt_embeds, dtype=np_dtype)
            return _latent_model_input, _prompt_embeds
        """,
    ),
    RealSite(
        DL_LOG, "dataset/eval/similarity/eval_ps_ranking_main.py", DL_LOG_COMMIT, 26, "fix",
        """
        import torch

        def main(args, device):
            phrase1_tensor, phrase2_tensor, label_tensor = get_data_emb(args.task, "test", device)
            phrase1_tensor = phrase1_tensor.cpu().detach().numpy()
            phrase2_tensor = phrase2_tensor.cpu().detach().numpy()  # <- site
            return phrase1_tensor, phrase2_tensor
        """,
    ),
    RealSite(
        DL_LOG, "dataset/ConsistencyTTA/audioldm/clap/training/lp_train_evaluate.py", DL_LOG_COMMIT, 43, "report",
        """
        import torch

        def evaluate(model, dataloader, args):
            eval_info = {"pred": [], "target": []}
            with torch.no_grad():
                for audio, class_label in dataloader:
                    pred = model(audio)
                    eval_info["pred"].append(pred)
                if is_master(args):
                    eval_info["pred"] = torch.cat(eval_info["pred"], 0).cpu()  # <- site
            return eval_info
        """,
        note="inside no_grad: defensive only",
    ),
    RealSite(
        DL_LOG,
        "dataset/ConsistencyTTA/diffusers/pipelines/semantic_stable_diffusion/pipeline_semantic_stable_diffusion___call__.py",
        DL_LOG_COMMIT, 347, "none",
        """
        import torch

        @torch.no_grad()
        def call(self, timesteps, noise_guidance, noise_guidance_edit):
            for i, t in enumerate(timesteps):
                noise_guidance = noise_guidance + noise_guidance_edit
                self.sem_guidance[i] = noise_guidance_edit.detach().cpu()  # <- site
            return noise_guidance
        """,
    ),
    RealSite(
        DL_LOG, "dataset/edit_detect/diffusers/src/diffusers/pipelines/ledits_pp/pipeline_leditspp_stable_diffusion___call__.py",
        DL_LOG_COMMIT, 270, "none",
        """
        import torch
        import torch.nn.functional as F

        @torch.no_grad()
        def call(self, timesteps, attn_map, tmp, shape):
            for i, t in enumerate(timesteps):
                attn_mask = torch.where(attn_map >= tmp, 1.0, 0.0)
                attn_mask = F.interpolate(attn_mask.unsqueeze(1), shape)
                self.activation_mask[i] = attn_mask.detach().cpu()  # <- site
        """,
    ),
    RealSite(
        "GNAYUOHZ/ReID-MGN", "utils/extract_feature.py", "f0251e9e6003ec6f2c3fbc8ce5741d21436c20cf", 11, "none",
        """
        import torch

        def extract_feature(model, loader):
            features = torch.FloatTensor()
            for inputs, labels in loader:
                outputs = model(inputs)
                f1 = outputs[0].data.cpu()  # <- site
                features = torch.cat((features, f1), 0)
            return features
        """,
        note="`.data` is outside autograd",
    ),
    RealSite(
        "prathik-k/moral-classifier", "code/ALBERT-LARGE-V1/test.py", "33df3287553d83eae1bbca215aec1e6e40531797", 21, "none",
        """
        import torch
        import torch.nn.functional as F

        def predict_test(model, test_dataloader):
            all_logits = []
            for batch in test_dataloader:
                with torch.no_grad():
                    logits = model(batch)
                all_logits.append(logits)
            all_logits = torch.cat(all_logits, dim=0)
            probs = F.softmax(all_logits, dim=1).cpu().numpy()  # <- site
            return probs
        """,
        note="converted at once, not kept as a tensor; the logits were made under no_grad",
    ),
    RealSite(
        "TeTo16/Image_Prediction_Project", "src/predict/predict.py", "37b92cc7dfb3b1d9d86f2564f6cc82a6384b13ed", 19, "none",
        """
        import torch

        def predict(model, loader):
            all_preds = []
            with torch.no_grad():
                for inputs, labels in loader:
                    all_preds.append(model(inputs).argmax(dim=1))
            all_preds = torch.cat(all_preds)
            return all_preds.cpu()  # <- site
        """,
        note="returned, not kept in a container",
    ),
]
