"""A straightforward transcription of disentanglement_lib's metric procedures, for benchmarks only.

Written from the published procedure (google-research/disentanglement_lib, evaluation/metrics):
per-sample Python loops, representation calls of disentanglement_lib's batch sizes (16 for
codes, one group of 64 per BetaVAE/FactorVAE point), arrays in its [num_codes, num_points]
layout, sklearn estimators per (code, factor) pair. Differences, all forced by today's sklearn or
by reproducibility:

* ``LogisticRegression()`` of sklearn <= 0.21 was liblinear one-vs-rest; sklearn 1.9 refuses
  liblinear on more than two classes, so ``OneVsRestClassifier(LogisticRegression(solver=
  "liblinear"))`` stands in (the same model and probabilities).
* ``GradientBoostingClassifier(random_state=0)``: disentanglement_lib left the seed unset.
* ``LinearSVC(C=0.01, class_weight="balanced")`` with today's ``dual="auto"`` (primal solver);
  the old dual default often stopped at max_iter on unscaled codes.
* The explicitness label binariser is fitted on the training classes (the original refits it on
  the test labels, which breaks when a class is missing there).

Random draws take a numpy Generator (``rng.integers`` where the original used ``randint``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.stats
from sklearn import ensemble, linear_model, metrics, preprocessing, svm
from sklearn.multiclass import OneVsRestClassifier


# ----------------------------------------------------------------------------- utils
def generate_batch_factor_code(data, representation_fn, num_points, rng, batch_size=16):
    representations, factors = None, None
    i = 0
    while i < num_points:
        num_points_iter = min(num_points - i, batch_size)
        current_factors, current_observations = data.sample(num_points_iter, rng)
        reps = np.asarray(representation_fn(current_observations))
        if i == 0:
            factors, representations = current_factors, reps
        else:
            factors = np.vstack((factors, current_factors))
            representations = np.vstack((representations, reps))
        i += num_points_iter
    return np.transpose(representations), np.transpose(factors)


def histogram_discretize(target, num_bins=20):
    discretized = np.zeros_like(target)
    for i in range(target.shape[0]):
        discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return discretized


def discrete_mutual_info(mus, ys):
    num_codes, num_factors = mus.shape[0], ys.shape[0]
    m = np.zeros([num_codes, num_factors])
    for i in range(num_codes):
        for j in range(num_factors):
            m[i, j] = metrics.mutual_info_score(ys[j, :], mus[i, :])
    return m


def discrete_entropy(ys):
    num_factors = ys.shape[0]
    h = np.zeros(num_factors)
    for j in range(num_factors):
        h[j] = metrics.mutual_info_score(ys[j, :], ys[j, :])
    return h


def normalize_data(data, mean=None, stddev=None):
    if mean is None:
        mean = np.mean(data, axis=1)
    if stddev is None:
        stddev = np.std(data, axis=1)
    return (data - mean[:, np.newaxis]) / stddev[:, np.newaxis], mean, stddev


def _logistic():
    return OneVsRestClassifier(linear_model.LogisticRegression(solver="liblinear"))


# ----------------------------------------------------------------------------- BetaVAE
def compute_beta_vae(data, representation_fn, rng, batch_size=64, num_train=10000,
                     num_eval=5000):
    def sample(num_points):
        points, labels = None, np.zeros(num_points, dtype=np.int64)
        for i in range(num_points):
            index = rng.integers(data.num_factors)
            factors1 = data.sample_factors(batch_size, rng)
            factors2 = data.sample_factors(batch_size, rng)
            factors2[:, index] = factors1[:, index]
            obs1 = data.sample_observations_from_factors(factors1, rng)
            obs2 = data.sample_observations_from_factors(factors2, rng)
            feature = np.mean(np.abs(representation_fn(obs1) - representation_fn(obs2)), axis=0)
            if points is None:
                points = np.zeros((num_points, feature.shape[0]))
            points[i, :] = feature
            labels[i] = index
        return points, labels

    train_points, train_labels = sample(num_train)
    model = _logistic().fit(train_points, train_labels)
    eval_points, eval_labels = sample(num_eval)
    return {"train_accuracy": float(model.score(train_points, train_labels)),
            "eval_accuracy": float(model.score(eval_points, eval_labels))}


# ----------------------------------------------------------------------------- FactorVAE
def compute_factor_vae(data, representation_fn, rng, batch_size=64, num_train=10000,
                       num_eval=5000, num_variance_estimate=10000):
    observations = data.sample_observations(num_variance_estimate, rng)
    reps = []
    for start in range(0, num_variance_estimate, 64):
        reps.append(np.asarray(representation_fn(observations[start : start + 64])))
    global_variances = np.var(np.concatenate(reps).T, axis=1, ddof=1)
    active_dims = np.sqrt(global_variances) >= 0.05
    if not active_dims.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    def votes_for(num_points):
        votes = np.zeros((data.num_factors, global_variances.shape[0]), dtype=np.int64)
        for _ in range(num_points):
            factor_index = rng.integers(data.num_factors)
            factors = data.sample_factors(batch_size, rng)
            factors[:, factor_index] = factors[0, factor_index]
            obs = data.sample_observations_from_factors(factors, rng)
            local_variances = np.var(representation_fn(obs), axis=0, ddof=1)
            argmin = np.argmin(local_variances[active_dims] / global_variances[active_dims])
            votes[factor_index, argmin] += 1
        return votes

    training_votes = votes_for(num_train)
    classifier = np.argmax(training_votes, axis=0)
    other_index = np.arange(training_votes.shape[1])
    train_accuracy = np.sum(training_votes[classifier, other_index]) / np.sum(training_votes)
    eval_votes = votes_for(num_eval)
    eval_accuracy = np.sum(eval_votes[classifier, other_index]) / np.sum(eval_votes)
    return {"train_accuracy": float(train_accuracy), "eval_accuracy": float(eval_accuracy),
            "num_active_dims": int(active_dims.sum())}


# ----------------------------------------------------------------------------- code metrics
def compute_mig_from(mus_train, ys_train):
    discretized_mus = histogram_discretize(mus_train)
    m = discrete_mutual_info(discretized_mus, ys_train)
    entropy = discrete_entropy(ys_train)
    sorted_m = np.sort(m, axis=0)[::-1]
    return {"discrete_mig": float(np.mean(np.divide(sorted_m[0, :] - sorted_m[1, :], entropy)))}


def compute_importance_gbt(x_train, y_train, x_test, y_test):
    num_factors, num_codes = y_train.shape[0], x_train.shape[0]
    importance_matrix = np.zeros([num_codes, num_factors], dtype=np.float64)
    train_loss, test_loss = [], []
    for i in range(num_factors):
        model = ensemble.GradientBoostingClassifier(random_state=0)
        model.fit(x_train.T, y_train[i, :])
        importance_matrix[:, i] = np.abs(model.feature_importances_)
        train_loss.append(np.mean(model.predict(x_train.T) == y_train[i, :]))
        test_loss.append(np.mean(model.predict(x_test.T) == y_test[i, :]))
    return importance_matrix, np.mean(train_loss), np.mean(test_loss)


def _disentanglement(importance_matrix):
    per_code = 1.0 - scipy.stats.entropy(importance_matrix.T + 1e-11,
                                         base=importance_matrix.shape[1])
    if importance_matrix.sum() == 0.0:
        importance_matrix = np.ones_like(importance_matrix)
    code_importance = importance_matrix.sum(axis=1) / importance_matrix.sum()
    return float(np.sum(per_code * code_importance))


def _completeness(importance_matrix):
    per_factor = 1.0 - scipy.stats.entropy(importance_matrix + 1e-11,
                                           base=importance_matrix.shape[0])
    if importance_matrix.sum() == 0.0:
        importance_matrix = np.ones_like(importance_matrix)
    factor_importance = importance_matrix.sum(axis=0) / importance_matrix.sum()
    return float(np.sum(per_factor * factor_importance))


def compute_dci_from(mus_train, ys_train, mus_test, ys_test):
    importance_matrix, train_err, test_err = compute_importance_gbt(
        mus_train, ys_train, mus_test, ys_test)
    return {"informativeness_train": float(train_err), "informativeness_test": float(test_err),
            "disentanglement": _disentanglement(importance_matrix),
            "completeness": _completeness(importance_matrix)}


def compute_sap_from(mus, ys, mus_test, ys_test, continuous_factors=False):
    num_latents, num_factors = mus.shape[0], ys.shape[0]
    score_matrix = np.zeros([num_latents, num_factors])
    for i in range(num_latents):
        for j in range(num_factors):
            mu_i, y_j = mus[i, :], ys[j, :]
            if continuous_factors:
                cov_mu_i_y_j = np.cov(mu_i, y_j, ddof=1)
                cov_mu_y = cov_mu_i_y_j[0, 1] ** 2
                var_mu, var_y = cov_mu_i_y_j[0, 0], cov_mu_i_y_j[1, 1]
                score_matrix[i, j] = cov_mu_y / (var_mu * var_y) if var_mu > 1e-12 else 0.0
            else:
                classifier = svm.LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(mu_i[:, np.newaxis], y_j)
                pred = classifier.predict(mus_test[i, :][:, np.newaxis])
                score_matrix[i, j] = np.mean(pred == ys_test[j, :])
    sorted_matrix = np.sort(score_matrix, axis=0)
    return {"SAP_score": float(np.mean(sorted_matrix[-1, :] - sorted_matrix[-2, :]))}


def _modularity(mutual_information):
    squared_mi = np.square(mutual_information)
    max_squared_mi = np.max(squared_mi, axis=1)
    numerator = np.sum(squared_mi, axis=1) - max_squared_mi
    denominator = max_squared_mi * (squared_mi.shape[1] - 1.0)
    modularity_score = 1.0 - numerator / denominator
    modularity_score[max_squared_mi == 0.0] = 0.0
    return float(np.mean(modularity_score))


def _explicitness_per_factor(mus_train, y_train, mus_test, y_test):
    clf = _logistic().fit(mus_train.T, y_train)
    mlb = preprocessing.MultiLabelBinarizer(classes=clf.classes_)
    roc_train = metrics.roc_auc_score(mlb.fit_transform(np.expand_dims(y_train, 1)),
                                      clf.predict_proba(mus_train.T))
    roc_test = metrics.roc_auc_score(mlb.fit_transform(np.expand_dims(y_test, 1)),
                                     clf.predict_proba(mus_test.T))
    return roc_train, roc_test


def compute_modularity_explicitness_from(mus_train, ys_train, mus_test, ys_test):
    mutual_information = discrete_mutual_info(histogram_discretize(mus_train), ys_train)
    scores = {"modularity_score": _modularity(mutual_information)}
    mus_train_norm, mean_mus, stddev_mus = normalize_data(mus_train)
    mus_test_norm, _, _ = normalize_data(mus_test, mean_mus, stddev_mus)
    train, test = [], []
    for i in range(ys_train.shape[0]):
        a, b = _explicitness_per_factor(mus_train_norm, ys_train[i, :], mus_test_norm,
                                        ys_test[i, :])
        train.append(a)
        test.append(b)
    scores["explicitness_score_train"] = float(np.mean(train))
    scores["explicitness_score_test"] = float(np.mean(test))
    return scores


def _scalable_disentanglement_score(gen_factors, latents, diff_quantile=0.99):
    num_gen, num_lat = gen_factors.shape[1], latents.shape[1]
    max_deviations = np.max(np.abs(latents - latents.mean(axis=0)), axis=0)
    cum_deviations = np.zeros([num_lat, num_gen])
    for i in range(num_gen):
        unique_factors = np.unique(gen_factors[:, i], axis=0)
        num_distinct_factors = unique_factors.shape[0]
        for k in range(num_distinct_factors):
            match = gen_factors[:, i] == unique_factors[k]
            e_loc = np.mean(latents[match, :], axis=0)
            diffs = np.abs(latents[match, :] - e_loc)
            max_diffs = np.percentile(diffs, q=diff_quantile * 100, axis=0)
            cum_deviations[:, i] += max_diffs
        cum_deviations[:, i] /= num_distinct_factors
    normalized_deviations = cum_deviations / max_deviations[:, np.newaxis]
    irs_matrix = 1.0 - normalized_deviations
    disentanglement_scores = irs_matrix.max(axis=1)
    if np.sum(max_deviations) > 0.0:
        return float(np.average(disentanglement_scores, weights=max_deviations))
    return float(np.mean(disentanglement_scores))


def compute_irs_from(mus, ys, diff_quantile=0.99):
    ys_discrete = histogram_discretize(ys)
    active_mus = mus[mus.var(axis=1) > 0.0, :]
    if not active_mus.any():
        return {"IRS": 0.0, "num_active_dims": 0}
    return {"IRS": _scalable_disentanglement_score(ys_discrete.T, active_mus.T, diff_quantile),
            "num_active_dims": int(active_mus.shape[0])}


def compute_unsupervised_from(mus_train):
    num_codes = mus_train.shape[0]
    cov_mus = np.cov(mus_train)
    scores = {
        "gaussian_total_correlation": float(
            0.5 * (np.sum(np.log(np.diag(cov_mus))) - np.linalg.slogdet(cov_mus)[1])),
    }
    sqrtm = scipy.linalg.sqrtm(cov_mus * np.expand_dims(np.diag(cov_mus), axis=1))
    wc = float(2 * np.trace(cov_mus) - 2 * np.trace(sqrtm).real)
    scores["gaussian_wasserstein_correlation"] = wc
    scores["gaussian_wasserstein_correlation_norm"] = wc / float(np.sum(np.diag(cov_mus)))
    mus_discrete = histogram_discretize(mus_train)
    mutual_info_matrix = discrete_mutual_info(mus_discrete, mus_discrete)
    np.fill_diagonal(mutual_info_matrix, 0)
    scores["mutual_info_score"] = float(np.sum(mutual_info_matrix) / (num_codes**2 - num_codes))
    return scores
