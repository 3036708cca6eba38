/*
 * gen_int.h — private to src/gen/: the static tables (gen_tables.c) that
 * gen.c draws from. Every table says in gen_tables.c where its numbers come
 * from and how approximate they are.
 */
#ifndef LT_GEN_GEN_INT_H
#define LT_GEN_GEN_INT_H

#include <stddef.h>
#include "gen.h"

/* A value and its relative weight (weights need not add up to anything). */
struct gen_weighted {
	const char *value;
	unsigned weight;
};

/* Index of a weighted choice from t[0..n). */
size_t gen_pick(struct gen_rng *r, const struct gen_weighted *t, size_t n);

/* Population by 5-year age band (0-4, 5-9, ..., 80-84, 85+). */
#define GEN_AGE_BANDS 18
extern const unsigned gen_age_band_weight[GEN_AGE_BANDS];
extern const double gen_male_share;

extern const struct gen_weighted gen_family_names[];
extern const size_t gen_n_family_names;
/* Middle names by sex, for people born before 1990 and from 1990 on. */
extern const struct gen_weighted gen_middle_male_old[], gen_middle_male_young[];
extern const struct gen_weighted gen_middle_female_old[], gen_middle_female_young[];
extern const size_t gen_n_middle_male_old, gen_n_middle_male_young;
extern const size_t gen_n_middle_female_old, gen_n_middle_female_young;
extern const struct gen_weighted gen_given_male[], gen_given_female[];
extern const size_t gen_n_given_male, gen_n_given_female;

/* Province of birth registration (the CCCD's first 3 digits). */
extern const struct gen_weighted gen_birth_provinces[];
extern const size_t gen_n_birth_provinces;

/* Wards and communes of HCMC (a sample of names; no codes). */
extern const char *const gen_wards[];
extern const size_t gen_n_wards;
extern const struct gen_weighted gen_streets[];
extern const size_t gen_n_streets;
extern const struct gen_weighted gen_phone_prefixes[];
extern const size_t gen_n_phone_prefixes;

/* Hospitals with real names; the rest of each group is numbered. */
extern const char *const gen_hospitals_city[];
extern const size_t gen_n_hospitals_city;
extern const char *const gen_hospitals_ministry[];
extern const size_t gen_n_hospitals_ministry;
extern const char *const gen_hospitals_private[];
extern const size_t gen_n_hospitals_private;

/* Conditions: ICD-10 code, Vietnamese display, prevalence per 1000 people by
 * age group (0-14, 15-39, 40-59, 60+), and whether it is chronic. */
enum { GEN_AGE_GROUPS = 4 };
struct gen_condition {
	const char *icd10;
	const char *display;
	unsigned per_1000[GEN_AGE_GROUPS];
	int chronic;
};
/* The rows of gen_conditions, in order: gen.c makes lab values follow them. */
enum gen_condition_row {
	GEN_I10, GEN_E11, GEN_E78, GEN_J44, GEN_J45, GEN_N18, GEN_I25, GEN_I63, GEN_B18_1,
	GEN_A15, GEN_A90, GEN_N_CONDITIONS
};
extern const struct gen_condition gen_conditions[GEN_N_CONDITIONS];

#endif
