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

/* HCMC's 168 wards and communes with their QĐ 19/2025/QĐ-TTg codes. */
#define GEN_N_WARDS 168
extern const struct gen_ward gen_wards[];
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
	GEN_A15, GEN_A90,
	GEN_N_PREVALENT,	/* the rows above are drawn by prevalence; those below
				 * come with a pregnancy */
	GEN_Z34 = GEN_N_PREVALENT, GEN_O24_4, GEN_O80, GEN_O82, GEN_N_CONDITIONS
};
extern const struct gen_condition gen_conditions[GEN_N_CONDITIONS];

/* Drugs: the ATC code and its WHO name, what a Vietnamese prescription
 * calls it (generic or brand, strength; medicationCodeableConcept.text), the
 * dosage instruction in Vietnamese, and for short courses their length in
 * days (0: continuous). GEN_DRUG_NONE ends a regimen's list. */
struct gen_drug {
	const char *atc, *atc_name, *text, *dosage;
	int days;
};
enum gen_drug_row {
	GEN_DRUG_NONE,
	GEN_AMLODIPINE, GEN_LOSARTAN, GEN_PERINDOPRIL, GEN_BISOPROLOL, GEN_HCTZ,
	GEN_METFORMIN, GEN_GLICLAZIDE, GEN_INSULIN_MIX,
	GEN_ATORVASTATIN, GEN_ROSUVASTATIN,
	GEN_SALBUTAMOL, GEN_BUDESONIDE_FORMOTEROL, GEN_SALMETEROL_FLUTICASONE, GEN_TIOTROPIUM,
	GEN_TENOFOVIR, GEN_ENTECAVIR,
	GEN_ASPIRIN, GEN_CLOPIDOGREL,
	GEN_RHZE, GEN_RH,
	GEN_PARACETAMOL, GEN_PARACETAMOL_CHILD,
	GEN_AMOXICILLIN, GEN_AMOXICILLIN_CHILD, GEN_AMOX_CLAV, GEN_CEFUROXIME,
	GEN_AZITHROMYCIN, GEN_AZITHROMYCIN_CHILD, GEN_CIPROFLOXACIN,
	GEN_N_DRUGS
};
extern const struct gen_drug gen_drugs[GEN_N_DRUGS];

/* Long-term treatment of a chronic condition: one of these drug lists,
 * by weight. */
struct gen_regimen {
	int condition;			/* gen_condition_row */
	unsigned weight;
	int drug[3];			/* gen_drug_row, GEN_DRUG_NONE after the last */
};
extern const struct gen_regimen gen_regimens[];
extern const size_t gen_n_regimens;
/* Share of those with the condition who are on drugs for it, per 100. */
extern const unsigned gen_treated_per_100[GEN_N_CONDITIONS];
/* Antibiotics of a short course for adults, by weight (value: unused). */
extern const struct gen_weighted gen_antibiotics[];
extern const int gen_antibiotic_drug[];
extern const size_t gen_n_antibiotics;

/* Vietnam's Expanded Programme on Immunization (TCMR) for a child, in
 * schedule order: the series and the dose in it, the age it is due at (in
 * days), the least gap after the series' previous dose, the CVX code. */
struct gen_vaccine_dose {
	const char *series;
	int dose;
	int age_days, min_gap_days;
	const char *cvx, *cvx_display, *text;
	int at_birth;		/* given where the child was born, not at the station */
};
extern const struct gen_vaccine_dose gen_tcmr[];
extern const size_t gen_n_tcmr;
/* The share of children who keep to the schedule, and how likely each
 * dose is for them and for the others. */
extern const double gen_tcmr_keepers, gen_tcmr_keeper_dose, gen_tcmr_other_dose;

/* Allergies: what, its category (AllergyIntolerance.category), SNOMED CT
 * code where we are confident of it (else NULL: text only), how many per
 * 1000 people have it, how often it is high-criticality, and two possible
 * reactions. */
struct gen_manifestation {
	const char *snomed, *display, *text;
};
struct gen_allergen {
	const char *category, *snomed, *display, *text;
	unsigned per_1000;
	double high;
	struct gen_manifestation reaction[2];
};
enum gen_allergen_row { GEN_ALLERGY_PENICILLIN, GEN_ALLERGY_NSAID, GEN_ALLERGY_SEAFOOD,
			GEN_ALLERGY_PEANUT, GEN_ALLERGY_DUST_MITE, GEN_N_ALLERGENS };
extern const struct gen_allergen gen_allergens[GEN_N_ALLERGENS];

/* Pregnancies: births per woman-year at 18-45, the share of antenatal
 * visits kept, of caesarean deliveries and of gestational diabetes. */
extern const double gen_births_per_woman_year, gen_antenatal_kept, gen_caesarean_share,
	gen_gestational_diabetes_share;
/* Antenatal visits, in weeks after the last menstrual period. */
#define GEN_N_ANTENATAL_WEEKS 7	/* sizes gen.c's encounter arrays */
extern const int gen_antenatal_weeks[GEN_N_ANTENATAL_WEEKS];
extern const size_t gen_n_antenatal_weeks;

#endif
