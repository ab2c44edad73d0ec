"""Helper package of the speech emotion & gender workbook.

The modules form layers, one subpackage (folder) per layer, lowest first in ``LAYERS`` (the
package's module map: ``speechemo.<layer>.<module>``): a module imports only from its own layer or
from layers below it, so the serving side (``inference``, ``app``)
never reaches training code, and models never reach notebook glue. ``tests/test_structure.py``
checks the imports (module level and inside functions) and the module sizes; the README's module
map is generated from ``LAYERS`` (``make report``) and checked by the same test.
"""

__version__ = "0.1.0"

#: layer (subpackage) -> {module: what it does}, lowest layer first.
LAYERS: dict[str, dict[str, str]] = {
    "foundations": {
        "labels": "label vocabulary and task mappings (emotion, sentiment, gender, gender x emotion)",
        "numeric": "softmax, temperature fit, balanced accuracy (and its mean over corpora), class and corpus x class weights, z-scoring, percentages",
        "files": "atomic writes of files and folders",
        "reproducibility": "seeds, package versions, the commit stamp (with a dirty flag) and the machine (with its vector extension)",
        "stage_times": "the stages the notebooks time, recorded beside the results, and their table",
        "profiles": "the quick and full profiles: every budget and size a run depends on",
        "paths": "where data and outputs live",
        "executor": "local processes or Dask for the parallel steps",
        "reference": "published figures to compare with",
        "plots": "figures shared by the notebooks",
    },
    "data": {
        "audio": "decoding front end (mono, 16 kHz, trimmed)",
        "perturb": "perturbations of a clip (noise, codec, reverb, ...)",
        "ravdess": "RAVDESS names and EmoBox folds",
        "cremad": "CREMA-D names, demographics, folds, manifest download",
        "synthetic": "synthetic corpora in each corpus's layout",
        "download": "download, verify and extract a corpus",
        "metadata": "the metadata table and integrity report",
        "speakers": "speaker id, corpus, gender and fold of every training speaker",
        "corpora": "the corpus registry and readers of other corpora",
        "datasets": "one corpus or a union of corpora",
    },
    "features": {
        "frames": "one STFT and the low-level descriptors of a clip",
        "registry": "what a feature set and an encoder are; the registries",
        "clip_features": "per-clip sets computed with librosa (seed, functionals, sequence, image)",
        "opensmile_features": "openSMILE sets (eGeMAPS, ComParE) and the eGeMAPS groups",
        "whisper": "Whisper base encoder: weights, front end, Keras model",
        "encoders": "the registered encoders and their pooled sets (whisper_base)",
        "extraction": "extraction of registered sets and the cache",
    },
    "serving": {
        "segments": "voice-activity segments of a long recording, read in blocks",
        "views": "what the pages show: the clip as heard, the best results",
        "inference": "load an exported bundle and answer clips and long recordings",
        "app": "the dashboard (predict, long recordings, explore, results) and the predict command",
    },
    "protocol": {
        "evaluation": "speaker folds, protocols, metrics and the results table",
        "choice": "the heads chosen fold by fold by the training actors' inner CV (nested_choice rows)",
    },
    "models": {
        "ridge": "dual ridge for wide embeddings, linear or Gaussian kernel",
        "calibration": "linear heads, temperature scaling, ECE",
        "search": "a grid of settings chosen by actor-grouped inner CV, every corpus counting the same",
        "classical": "LR, RF, XGBoost, SVM and ridge behind one interface",
        "deep": "LSTM and ResNet-18 on CPU",
    },
    "analysis": {
        "probe": "layer probe, transfer probe, calibrate-to-a-voice curve",
        "crosscorpus": "models and bundles scored on another corpus",
        "eda": "descriptive statistics of a corpus",
    },
    "deployment": {
        "robustness": "perturbation suite that scores deployment candidates",
        "unseen_corpus": "the deployed heads scored leave-one-corpus-out as deployed",
        "export": "choose, retrain and write the deployable heads",
        "selection": "the deployment choices (head, K) cross-validated: nested estimates",
        "explore_files": "the Explore page's data and shareable example clips for a bundle",
        "card": "the model card",
        "report": "README tables generated from the results",
    },
    "workbook": {
        "steps": "what every notebook does first, and its shared steps",
        "runner": "run the notebooks with papermill (make all)",
        "scaling": "how the parallel steps scale with Dask workers",
    },
}
