# Oracle for declared designs: strata, clusters, fpc, multistage, replicate weights, and R's own
# calibration path (calibrate() from the design weights, bounds, trimWeights), on R's api data.
# Usage: Rscript tests/oracle/oracle_design.R [output_dir]
# Writes api_{strat,clus1,clus2}.csv (the data, codes as integers, with exported replicate
# weights), design_r_values.csv (design, quantity, value) and design_r_weights.csv.
suppressPackageStartupMessages(library(survey))
options(digits = 17, warn = 1, survey.lonely.psu = "fail")

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
targs <- commandArgs(trailingOnly = TRUE)
out <- if (length(targs) >= 1) targs[1] else here
dir.create(out, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) sprintf("%.17g", x)
data(api)

code <- function(d) {
  d$stype_c <- as.integer(factor(d$stype, levels = c("E", "H", "M")))
  d$awards_c <- as.integer(factor(d$awards, levels = c("No", "Yes")))
  d$schwide_c <- as.integer(factor(d$sch.wide, levels = c("No", "Yes")))
  d$compimp_c <- as.integer(factor(d$comp.imp, levels = c("No", "Yes")))
  d
}
apistrat <- code(apistrat); apiclus1 <- code(apiclus1); apiclus2 <- code(apiclus2)
apiclus2$fpc2n <- as.numeric(apiclus2$fpc2)

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
dclus1n <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2n, weights = ~pw, data = apiclus2)

# Replicate weights as an agency would deliver them: exported, then declared with svrepdesign.
jk <- weights(as.svrepdesign(dclus1, type = "JK1"), "analysis")
colnames(jk) <- paste0("jk_", seq_len(ncol(jk)))
apiclus1 <- cbind(apiclus1, jk)
set.seed(20261130)
bs <- weights(as.svrepdesign(dstrat, type = "bootstrap", replicates = 40), "analysis")
colnames(bs) <- paste0("bs_", seq_len(ncol(bs)))
apistrat <- cbind(apistrat, bs)
djk <- svrepdesign(data = apiclus1, repweights = "^jk_", weights = ~pw, type = "JK1",
                   scale = 14 / 15, combined.weights = TRUE)
dbs <- svrepdesign(data = apistrat, repweights = "^bs_", weights = ~pw, type = "bootstrap",
                   combined.weights = TRUE, mse = TRUE)

keep <- c("snum", "dnum", "stype_c", "awards_c", "schwide_c", "compimp_c", "api00", "pw")
write.csv(apistrat[, c(keep, "fpc", colnames(bs))], file.path(out, "api_strat.csv"),
          row.names = FALSE)
write.csv(apiclus1[, c(keep, "fpc", colnames(jk))], file.path(out, "api_clus1.csv"),
          row.names = FALSE)
write.csv(apiclus2[, c(keep, "fpc1", "fpc2n")], file.path(out, "api_clus2.csv"),
          row.names = FALSE)

pop <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5122)
cal <- function(d, ...) calibrate(d, ~stype + sch.wide, population = pop, epsilon = 1e-13,
                                  maxit = 500, ...)
designs <- list(
  strat = dstrat, clus1 = dclus1, clus1_nofpc = dclus1n, clus2 = dclus2,
  strat_cal_raking = cal(dstrat, calfun = "raking"),
  clus1_cal_linear = cal(dclus1, calfun = "linear"),
  clus1_cal_raking_bounds = cal(dclus1, calfun = "raking", bounds = c(0.8, 1.7)),
  clus1_cal_logit = cal(dclus1, calfun = "logit", bounds = c(0.7, 2.5)),
  clus1_cal_trim = trimWeights(cal(dclus1, calfun = "raking"), lower = 25, upper = 40,
                               strict = TRUE),
  clus2_cal_raking = cal(dclus2, calfun = "raking"),
  jk1 = djk, boot = dbs, jk1_cal_raking = cal(djk, calfun = "raking", compress = FALSE)
)

rows <- list()
add <- function(design, quantity, value) rows[[length(rows) + 1]] <<- data.frame(
  design = design, quantity = quantity, value = fmt(value))
wrows <- list()
for (nm in names(designs)) {
  d <- designs[[nm]]
  wrows[[nm]] <- data.frame(design = nm, replicate = 0L, snum = d$variables$snum,
                            weight = fmt(weights(d, "sampling")))
  if (inherits(d, "svyrep.design")) {
    rw <- weights(d, "analysis")
    wrows[[paste0(nm, "_rep")]] <- data.frame(
      design = nm, replicate = rep(seq_len(ncol(rw)), each = nrow(rw)),
      snum = rep(d$variables$snum, ncol(rw)), weight = fmt(as.vector(rw)))
  }
  add(nm, "degf", degf(d))
  m <- svymean(~api00, d); add(nm, "mean_api00", coef(m)); add(nm, "mean_api00_se", SE(m))
  m <- svytotal(~api00, d); add(nm, "total_api00", coef(m)); add(nm, "total_api00_se", SE(m))
  m <- svymean(~api00, subset(d, comp.imp == "Yes"))
  add(nm, "mean_api00_compimp", coef(m)); add(nm, "mean_api00_compimp_se", SE(m))
  m <- svytotal(~api00, subset(d, comp.imp == "Yes"))
  add(nm, "total_api00_compimp", coef(m)); add(nm, "total_api00_compimp_se", SE(m))
  for (s in c("all", "E", "H", "M")) {
    sub <- if (s == "all") d else subset(d, stype == s)
    m <- svymean(~awards, sub)
    p <- unname(coef(m)[2]); se <- unname(SE(m)[2]); df <- degf(sub)
    q <- paste0("prop_awards_", s)
    add(nm, q, p); add(nm, paste0(q, "_se"), se); add(nm, paste0(q, "_df"), df)
    half <- qt(0.975, df) * se / (p * (1 - p))
    add(nm, paste0(q, "_lo"), plogis(qlogis(p) - half))
    add(nm, paste0(q, "_hi"), plogis(qlogis(p) + half))
  }
  # Means and totals by domain (the means table): svyby on the full design, t interval with
  # the domain's degf.
  bm <- svyby(~api00, ~stype, d, svymean); bt <- svyby(~api00, ~stype, d, svytotal)
  for (i in 1:3) {
    s <- c("E", "H", "M")[i]; q <- paste0("bymean_api00_", s); df <- degf(subset(d, stype == s))
    add(nm, q, coef(bm)[i]); add(nm, paste0(q, "_se"), SE(bm)[i]); add(nm, paste0(q, "_df"), df)
    add(nm, paste0(q, "_lo"), coef(bm)[i] - qt(0.975, df) * SE(bm)[i])
    add(nm, paste0(q, "_hi"), coef(bm)[i] + qt(0.975, df) * SE(bm)[i])
    add(nm, paste0("bytotal_api00_", s), coef(bt)[i])
    add(nm, paste0("bytotal_api00_", s, "_se"), SE(bt)[i])
  }
  ch <- svychisq(~awards + stype, d, statistic = "F")
  add(nm, "chisq_F", ch$statistic); add(nm, "chisq_ndf", ch$parameter[1])
  add(nm, "chisq_ddf", ch$parameter[2]); add(nm, "chisq_p", ch$p.value)
  g <- svyglm(I(awards == "Yes") ~ stype + api00, design = d, family = quasibinomial(),
              control = glm.control(epsilon = 1e-14, maxit = 100))
  cf <- coef(summary(g))
  for (i in seq_len(nrow(cf))) {
    add(nm, paste0("glm_coef_", i), cf[i, 1]); add(nm, paste0("glm_se_", i), cf[i, 2])
    add(nm, paste0("glm_p_", i), cf[i, 4])
  }
  add(nm, "glm_df", g$df.residual)
}
write.csv(do.call(rbind, rows), file.path(out, "design_r_values.csv"), row.names = FALSE)
write.csv(do.call(rbind, wrows), file.path(out, "design_r_weights.csv"), row.names = FALSE)

# ---------------------------------------------------------------- the study's fixture, declared
# The 2,000-row fixture with the study's variables (fixture_survey.csv) given strata (region) and
# PSUs numbered within stratum (nest = TRUE), raked with calibrate() from the design weights.
d <- read.csv(file.path(here, "fixture_survey.csv"), stringsAsFactors = FALSE)
d$stratum <- d$region
d$psu <- ave(seq_len(nrow(d)), d$region, FUN = function(i) (seq_along(i) - 1) %% 6 + 1)
write.csv(d[, c("respondent_id", "stratum", "psu")], file.path(out, "design_fixture_psu.csv"),
          row.names = FALSE)
rt <- function(name) read.csv(file.path(here, name), comment.char = "#", colClasses = "character")
tg <- list(sexage = rt("targets_sex_x_age_band.csv"), region_f = rt("targets_region.csv"),
           eth_f = rt("targets_ethnicity.csv"), qual_f = rt("targets_qualification.csv"))
tot <- sum(d$design_weight)
d$sexage <- factor(paste(d$sex, d$age_band, sep = ":"), levels = tg$sexage$category)
d$region_f <- factor(d$region, levels = tg$region_f$category)
d$eth_f <- factor(d$ethnicity, levels = tg$eth_f$category)
d$qual_f <- factor(d$qualification, levels = tg$qual_f$category)
share <- function(t) as.numeric(t$share) / sum(as.numeric(t$share)) * tot
popf <- unname(c(tot, unlist(lapply(tg, function(t) share(t)[-1]))))
dfx <- calibrate(svydesign(ids = ~psu, strata = ~stratum, nest = TRUE, weights = ~design_weight,
                           data = d), ~sexage + region_f + eth_f + qual_f, population = popf,
                 calfun = "raking", epsilon = 1e-13, maxit = 500)
items <- c("heard", "acc_plan_net", "trust_council_net", "consent", "social_licence_high")
excl <- list(heard = 8, acc_plan_net = 8, trust_council_net = 8, consent = 8,
             social_licence_high = integer(0))
breaks <- c("all", "family_type", "income", "ethnicity")
bexcl <- list(all = integer(0), family_type = integer(0), income = 9, ethnicity = integer(0))
dfx <- update(dfx, all = 0L)
est_rows <- list(); test_rows <- list()
for (it in items) {
  v <- d[[it]]
  ok_i <- !(v %in% excl[[it]]) & !is.na(v)
  for (b in breaks) {
    g <- if (b == "all") rep(0L, nrow(d)) else d[[b]]
    ok_g <- !(g %in% bexcl[[b]]) & !is.na(g)
    for (gc in sort(unique(g[ok_g]))) {
      for (k in sort(unique(v[ok_i]))) {
        dd <- subset(update(dfx, yk = as.numeric(v == k)), ok_i & ok_g & g == gc)
        m <- svymean(~yk, dd)
        p <- unname(coef(m)); se <- unname(SE(m)); df <- degf(dd)
        half <- qt(0.975, df) * se / (p * (1 - p))
        est_rows[[length(est_rows) + 1]] <- data.frame(
          variable = it, category_code = k, group_variable = b, group_code = gc,
          estimate = fmt(p), se = fmt(se), df = df, ci_lower = fmt(plogis(qlogis(p) - half)),
          ci_upper = fmt(plogis(qlogis(p) + half)))
      }
    }
    if (b != "all") {
      des2 <- update(dfx, yna = factor(ifelse(ok_i, v, NA)), gna = factor(ifelse(ok_g, g, NA)))
      ch <- svychisq(~yna + gna, des2)
      test_rows[[length(test_rows) + 1]] <- data.frame(
        variable = it, group_variable = b, f = fmt(ch$statistic), ndf = fmt(ch$parameter[1]),
        ddf = fmt(ch$parameter[2]), p_value = fmt(ch$p.value))
    }
  }
}
write.csv(do.call(rbind, est_rows), file.path(out, "design_fixture_estimates.csv"),
          row.names = FALSE)
write.csv(do.call(rbind, test_rows), file.path(out, "design_fixture_tests.csv"), row.names = FALSE)
dfx <- update(dfx, income_na = ifelse(income == 9, NA, income))
fit <- svyglm(social_licence_high ~ factor(ethnicity) + factor(family_type) + factor(age_band) +
                factor(qualification) + factor(income_na) + factor(hh_size_group), design = dfx,
              family = quasibinomial(), control = glm.control(epsilon = 1e-14, maxit = 100))
co <- summary(fit)$coefficients
term <- sub("^income_na=", "income=", gsub("^factor\\(([a-z_]+)\\)(.*)$", "\\1=\\2", rownames(co)))
write.csv(data.frame(term = term, estimate = fmt(co[, 1]), se = fmt(co[, 2]),
                     p_value = fmt(co[, 4]), df = fit$df.residual),
          file.path(out, "design_fixture_glm.csv"), row.names = FALSE)
