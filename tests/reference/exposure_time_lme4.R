# Reference fits for cscvault's exposure-time models (src/cscvault/analysis/models/exposure.py).
#
# Usage: Rscript tests/reference/exposure_time_lme4.R DATA_DIR OUT.json
# DATA_DIR holds exposure_manifest.json and one CSV of binomial rows per dataset (columns cluster, period
# (1, 2, ...), treatment, covariates..., events, trials), made by exposure_time_make_datasets.py.
# Exposure time is derived here, independently of cscvault: periods since the cluster's first treated
# period (0 = control). For each dataset and random-effect structure, with lme4's default settings:
#   * the exposure-time indicator model: factor(period) + factor(exposure) + covariates + random effects;
#   * the time-averaged effect: mean of the exposure coefficients, SE sqrt(a' V a) from vcov();
#   * the Wald test that all exposure coefficients are equal (contrasts with the first; K - 1 df);
#   * the delayed-effect model: delayed (exposure >= 2) + transition (exposure == 1) instead.
# Fitted by glmer Laplace (nAGQ = 1) and, with a cluster intercept only, nAGQ = 25.
# Written with R 4.2.2, lme4 1.1-31 (Debian bookworm packages).
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[[1]]
out_path <- args[[2]]
manifest <- fromJSON(file.path(data_dir, "exposure_manifest.json"), simplifyVector = FALSE)

fit_summary <- function(fit) {
  v <- as.matrix(vcov(fit))
  vc <- as.data.frame(VarCorr(fit))
  sds <- setNames(as.list(vc$sdcor), ifelse(vc$grp == "cluster", "cluster", "cluster_period"))
  list(
    terms = names(fixef(fit)),
    estimate = unname(fixef(fit)),
    se = unname(sqrt(diag(v))),
    re_sd = sds,
    loglik = as.numeric(logLik(fit)),
    singular = isSingular(fit)
  )
}

exposure_summary <- function(fit) {
  b <- fixef(fit)
  v <- as.matrix(vcov(fit))
  idx <- grep("^factor\\(exposure\\)", names(b))
  k <- length(idx)
  a <- rep(0, length(b))
  a[idx] <- 1 / k
  cmat <- matrix(0, k - 1, length(b))
  for (r in seq_len(k - 1)) {
    cmat[r, idx[1]] <- -1
    cmat[r, idx[r + 1]] <- 1
  }
  d <- cmat %*% b
  stat <- as.numeric(t(d) %*% solve(cmat %*% v %*% t(cmat), d))
  list(
    time_averaged = list(estimate = sum(a * b), se = sqrt(as.numeric(t(a) %*% v %*% a))),
    heterogeneity = list(statistic = stat, df = k - 1, p_value = pchisq(stat, k - 1, lower.tail = FALSE))
  )
}

results <- list()
for (name in names(manifest)) {
  info <- manifest[[name]]
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")))
  d$cluster <- factor(d$cluster)
  first <- tapply(ifelse(d$treatment == 1, d$period, Inf), d$cluster, min)
  d$exposure <- ifelse(d$treatment == 1, d$period - first[as.character(d$cluster)] + 1, 0)
  d$delayed <- as.integer(d$exposure >= 2)
  d$transition <- as.integer(d$exposure == 1)
  covs <- unlist(info$covariates)
  lhs <- "cbind(events, trials - events) ~ factor(period)"
  eti <- paste(c(lhs, "factor(exposure)", covs), collapse = " + ")
  dct <- paste(c(lhs, "delayed", "transition", covs), collapse = " + ")
  settings <- list(cluster_laplace = list(re = "(1 | cluster)", nagq = 1))
  if ("cluster-period" %in% unlist(info$random_effects)) {
    settings$cluster_period_laplace <- list(re = "(1 | cluster) + (1 | cluster:period)", nagq = 1)
  } else {
    settings$cluster_agq25 <- list(re = "(1 | cluster)", nagq = 25)
  }
  fits <- list()
  for (key in names(settings)) {
    s <- settings[[key]]
    t0 <- proc.time()[["elapsed"]]
    f_eti <- glmer(as.formula(paste(eti, "+", s$re)), data = d, family = binomial, nAGQ = s$nagq)
    f_dct <- glmer(as.formula(paste(dct, "+", s$re)), data = d, family = binomial, nAGQ = s$nagq)
    out <- c(fit_summary(f_eti), exposure_summary(f_eti))
    out$delayed <- fit_summary(f_dct)
    out$seconds <- proc.time()[["elapsed"]] - t0
    fits[[key]] <- out
  }
  results[[name]] <- fits
}

meta <- list(r_version = R.version.string, lme4 = as.character(packageVersion("lme4")))
write_json(list(meta = meta, results = results), out_path, digits = NA, auto_unbox = TRUE, pretty = TRUE)
