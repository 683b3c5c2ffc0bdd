# Oracle: expected values from R's survey package for the Python statistics stages.
# Usage (from anywhere): Rscript tests/oracle/oracle.R [output_dir]
# Reads the fixtures next to this script; writes r_*.csv to output_dir (default: this folder).
# Design convention matched by parentlink.estimate: ids = ~1, final weights treated as calibrated
# to the raking margins (calibrate(calfun = "linear") on weights that already meet the totals).
suppressPackageStartupMessages(library(survey))
options(digits = 17, warn = 1)

args <- commandArgs(trailingOnly = FALSE)
script <- normalizePath(sub("^--file=", "", args[grep("^--file=", args)]))
here <- dirname(script)
targs <- commandArgs(trailingOnly = TRUE)
out <- if (length(targs) >= 1) targs[1] else here
dir.create(out, showWarnings = FALSE, recursive = TRUE)
wcsv <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)
fmt <- function(x) sprintf("%.17g", x)

# ---------------------------------------------------------------- (a) api data ----------------
data(api)
published <- list()
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
m <- svymean(~api00, dclus1)
stopifnot(abs(coef(m) - 644.17) < 0.005, abs(SE(m) - 23.542) < 0.0005)
published[["dclus1_api00_mean"]] <- c(coef(m), SE(m))
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
m <- svymean(~api00, dstrat)
stopifnot(abs(coef(m) - 662.29) < 0.005, abs(SE(m) - 9.4089) < 0.00005)
published[["dstrat_api00_mean"]] <- c(coef(m), SE(m))
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
dclus1r <- rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide))
m <- svymean(~api00, dclus1r)
stopifnot(abs(coef(m) - 641.23) < 0.005, abs(SE(m) - 23.704) < 0.0005)
published[["dclus1_raked_api00_mean"]] <- c(coef(m), SE(m))
ch <- svychisq(~sch.wide + stype, dclus1)
stopifnot(abs(ch$statistic - 5.1934) < 0.00005, abs(ch$p.value - 0.02175) < 0.000005)
published[["dclus1_svychisq_F"]] <- c(ch$statistic, ch$p.value)
wcsv(data.frame(quantity = names(published),
                value = fmt(sapply(published, `[`, 1)), second = fmt(sapply(published, `[`, 2))),
     "r_api_published.csv")

# apisrs as a one-stage ids = ~1 design (our estimator's design), raked to the population margins
srs <- apisrs[, c("snum", "stype", "sch.wide", "awards", "both", "api00", "pw")]
srs$stype <- as.integer(factor(srs$stype, levels = c("E", "H", "M")))
srs$sch.wide <- as.integer(factor(srs$sch.wide, levels = c("No", "Yes")))
srs$awards <- as.integer(factor(srs$awards, levels = c("No", "Yes")))
srs$both <- as.integer(factor(srs$both, levels = c("No", "Yes")))
names(srs)[names(srs) == "sch.wide"] <- "sch_wide"
wcsv(srs, "api_srs.csv")
dsrs <- svydesign(id = ~1, weights = ~pw, data = transform(srs, stype = factor(stype),
                  sch_wide = factor(sch_wide)))
dsrsr <- rake(dsrs, list(~stype, ~sch_wide),
              list(data.frame(stype = factor(1:3), Freq = c(4421, 755, 1018)),
                   data.frame(sch_wide = factor(1:2), Freq = c(1072, 5122))),
              control = list(maxit = 1000, epsilon = 1e-13))
wr <- weights(dsrsr)
dsrsc <- calibrate(svydesign(id = ~1, weights = wr, data = transform(srs, stype = factor(stype),
                   sch_wide = factor(sch_wide))), ~stype + sch_wide,
                   population = c(6194, 755, 1018, 5122), calfun = "linear")
api_rows <- list()
add_api <- function(q, est, se) api_rows[[length(api_rows) + 1]] <<- data.frame(
  quantity = q, estimate = fmt(est), se = fmt(se))
m <- svymean(~api00, dsrsc); add_api("mean_api00_cal", coef(m), SE(m))
m <- svymean(~api00, dsrsr); add_api("mean_api00_rake_backfit", coef(m), SE(m))
m <- svymean(~api00, dsrs); add_api("mean_api00_uncal", coef(m), SE(m))
for (s in 1:3) {
  m <- svymean(~I(awards == 2), subset(dsrsc, stype == s))
  add_api(paste0("prop_awards_yes_stype", s, "_cal"), coef(m)[2], SE(m)[2])
}
m <- svymean(~I(awards == 2), subset(dsrsc, both == 2))
add_api("prop_awards_yes_both2_cal", coef(m)[2], SE(m)[2])
ch <- svychisq(~awards + stype, dsrsc)
add_api("svychisq_awards_stype_F", ch$statistic, NA)
add_api("svychisq_awards_stype_p", ch$p.value, NA)
add_api("svychisq_awards_stype_ndf", ch$parameter[1], ch$parameter[2])
wcsv(do.call(rbind, api_rows), "r_api.csv")
wcsv(data.frame(snum = srs$snum, weight = fmt(wr)), "r_api_weights.csv")

# ---------------------------------------------------------------- (b) Kalton & Flores-Cervantes
ab <- expand.grid(a = factor(1:4), b = factor(1:3))
ks <- ab[rep(1:12, c(20, 50, 100, 30, 40, 140, 50, 100, 40, 310, 50, 70)), ]
kp <- ab[rep(1:12, c(80, 60, 170, 55, 40, 150, 60, 165, 55, 340, 200, 125)), ]
dk <- svydesign(id = ~1, data = ks, weights = rep(1, nrow(ks)))
dkr <- rake(dk, list(~a, ~b), list(xtabs(~a, kp), xtabs(~b, kp)),
            control = list(maxit = 1000, epsilon = 1e-13))
ratio <- svytable(~a + b, dkr) / xtabs(~a + b, ks)
kal <- as.data.frame(ratio)
names(kal) <- c("a", "b", "weight")
kal$sample <- as.data.frame(xtabs(~a + b, ks))$Freq
kal$weight <- fmt(kal$weight)
wcsv(kal, "r_kalton.csv")

# ---------------------------------------------------------------- (c) synthetic fixture -------
d <- read.csv(file.path(here, "fixture_survey.csv"), stringsAsFactors = FALSE)
meta <- list(
  heard = 8, acc_plan_net = 8, trust_council_net = 8, consent = 8, social_licence_high = NULL)
read_targets <- function(name) read.csv(file.path(here, name), comment.char = "#",
                                        colClasses = "character")
t_sa <- read_targets("targets_sex_x_age_band.csv")
t_re <- read_targets("targets_region.csv")
t_et <- read_targets("targets_ethnicity.csv")
t_qu <- read_targets("targets_qualification.csv")
tot <- sum(d$design_weight)
d$sexage <- factor(paste(d$sex, d$age_band, sep = ":"), levels = t_sa$category)
d$region_f <- factor(d$region, levels = t_re$category)
d$eth_f <- factor(d$ethnicity, levels = t_et$category)
d$qual_f <- factor(d$qualification, levels = t_qu$category)
pm <- function(t, v) { x <- data.frame(factor(t$category, levels = t$category),
                                       Freq = as.numeric(t$share) / sum(as.numeric(t$share)) * tot)
                       names(x)[1] <- v; x }
d0 <- svydesign(id = ~1, weights = ~design_weight, data = d)
dr <- rake(d0, list(~sexage, ~region_f, ~eth_f, ~qual_f),
           list(pm(t_sa, "sexage"), pm(t_re, "region_f"), pm(t_et, "eth_f"), pm(t_qu, "qual_f")),
           control = list(maxit = 5000, epsilon = 1e-12))
d$final_weight <- weights(dr)
wcsv(data.frame(respondent_id = d$respondent_id, final_weight = fmt(d$final_weight)),
     "r_fixture_weights.csv")
calf <- ~sexage + region_f + eth_f + qual_f
mmc <- model.matrix(calf, d)
dcal <- calibrate(svydesign(id = ~1, weights = ~final_weight, data = d), calf,
                  population = colSums(mmc * d$final_weight), calfun = "linear")
stopifnot(max(abs(weights(dcal) / d$final_weight - 1)) < 1e-9)
dsrs <- svydesign(id = ~1, weights = rep(1, nrow(d)), data = d)

items <- c("heard", "acc_plan_net", "trust_council_net", "consent", "social_licence_high")
excl <- list(heard = 8, acc_plan_net = 8, trust_council_net = 8, consent = 8,
             social_licence_high = integer(0))
breaks <- c("all", "family_type", "income", "ethnicity", "hh_size_group")
bexcl <- list(all = integer(0), family_type = integer(0), income = 9, ethnicity = integer(0),
              hh_size_group = integer(0))
d$all <- 0L

est_rows <- list(); test_rows <- list()
for (dname in c("cal", "srs")) {
  des <- if (dname == "cal") dcal else dsrs
  for (it in items) {
    v <- d[[it]]
    ok_i <- !(v %in% excl[[it]]) & !is.na(v)
    codes <- sort(unique(v[ok_i]))
    des <- update(des, yf = factor(ifelse(ok_i, v, codes[1]), levels = codes))
    for (b in breaks) {
      g <- d[[b]]
      ok_g <- !(g %in% bexcl[[b]]) & !is.na(g)
      des <- update(des, gf = factor(ifelse(ok_g, g, -1)))
      dsub <- subset(des, ok_i & ok_g)
      by <- svyby(~yf, ~gf, dsub, svymean)
      gcodes <- sort(unique(g[ok_g]))
      for (gc in gcodes) {
        dd <- subset(des, ok_i & ok_g & g == gc)
        df <- degf(dd)
        row <- which(as.character(by$gf) == as.character(gc))
        for (k in codes) {
          p <- by[row, paste0("yf", k)]
          se <- by[row, paste0("se.yf", k)]
          tq <- qt(0.975, df)
          lo <- plogis(qlogis(p) - tq * se / (p * (1 - p)))
          hi <- plogis(qlogis(p) + tq * se / (p * (1 - p)))
          ddk <- subset(update(des, yk = as.numeric(v == k)), ok_i & ok_g & g == gc)
          ci <- tryCatch({
            cp <- suppressWarnings(svyciprop(~yk, ddk, method = "logit"))
            as.numeric(attr(cp, "ci"))
          }, error = function(e) c(NA, NA))
          est_rows[[length(est_rows) + 1]] <- data.frame(
            design = dname, variable = it, category_code = k, group_variable = b,
            group_code = gc, estimate = fmt(p), se = fmt(se), df = df,
            ci_lower = fmt(lo), ci_upper = fmt(hi),
            svyciprop_lower = fmt(ci[1]), svyciprop_upper = fmt(ci[2]))
        }
      }
      if (b != "all") {
        des2 <- update(des, yna = factor(ifelse(ok_i, v, NA)), gna = factor(ifelse(ok_g, g, NA)))
        ch <- svychisq(~yna + gna, des2)
        ndom <- sum(ok_i & ok_g)
        x2 <- suppressWarnings(chisq.test(svytable(~yna + gna, des2, Ntotal = ndom),
                                          correct = FALSE)$statistic)
        test_rows[[length(test_rows) + 1]] <- data.frame(
          design = dname, variable = it, group_variable = b, chisq = fmt(x2),
          f = fmt(ch$statistic), ndf = fmt(ch$parameter[1]), ddf = fmt(ch$parameter[2]),
          p_value = fmt(ch$p.value), n = ndom)
      }
    }
  }
}
wcsv(do.call(rbind, est_rows), "r_fixture_estimates.csv")
wcsv(do.call(rbind, test_rows), "r_fixture_tests.csv")

glm_rows <- list()
for (dname in c("cal", "srs")) {
  des <- if (dname == "cal") dcal else dsrs
  des <- update(des, income_na = ifelse(income == 9, NA, income))
  fit <- svyglm(social_licence_high ~ factor(ethnicity) + factor(family_type) +
                  factor(age_band) + factor(qualification) + factor(income_na) +
                  factor(hh_size_group), design = des, family = quasibinomial(),
                control = glm.control(epsilon = 1e-13, maxit = 100))
  co <- summary(fit)$coefficients
  ci <- confint(fit)
  term <- gsub("^factor\\(([a-z_]+)\\)(.*)$", "\\1=\\2", rownames(co))
  term <- sub("^income_na=", "income=", term)
  glm_rows[[dname]] <- data.frame(
    design = dname, term = term, estimate = fmt(co[, 1]), se = fmt(co[, 2]), t = fmt(co[, 3]),
    p_value = fmt(co[, 4]), or_lower = fmt(exp(ci[, 1])), or_upper = fmt(exp(ci[, 2])),
    df = fit$df.residual)
}
wcsv(do.call(rbind, glm_rows), "r_fixture_glm.csv")
cat("oracle written to", out, "\n")
