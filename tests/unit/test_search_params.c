/*
 * test_search_params.c — the generated R4 search-parameter table
 * (src/fhir/search_params.c): its order, lookups, well-known rows, the
 * per-type split of shared expressions, composites, modifiers, and that
 * every expression in it compiles with the FHIRPath subset (the count is
 * printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fhir/fhir.h"
#include "fhir/search.h"

static const struct fhir_search_param *find(const char *type, const char *code)
{
	const struct fhir_search_param *p = fhir_search_param_find(type, code);

	if (!p)
		print_error("no parameter %s on %s\n", code, type);
	assert_non_null(p);
	return p;
}

static int has_target(const struct fhir_search_param *p, const char *type)
{
	for (size_t i = 0; i < p->n_target; i++)
		if (strcmp(p->target[i], type) == 0)
			return 1;
	return 0;
}

static void test_order_and_slices(void **state)
{
	size_t covered = 0;
	int distinct = 0;

	(void)state;
	for (size_t i = 1; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *a = &fhir_search_params[i - 1],
					       *b = &fhir_search_params[i];
		int c = strcmp(a->resource_type, b->resource_type);

		assert_true(c < 0 || (c == 0 && strcmp(a->code, b->code) < 0));
	}
	for (int r = 0; r < fhir_resource_type_count(); r++) {
		const char *name = fhir_resource_type_name(r);
		size_t n;
		const struct fhir_search_param *p = fhir_search_params_for(name, &n);

		assert_non_null(p);
		assert_true(n >= 7);	/* at least the Resource parameters */
		for (size_t i = 0; i < n; i++)
			assert_string_equal(p[i].resource_type, name);
		covered += n;
	}
	assert_int_equal(covered, FHIR_SEARCH_PARAM_COUNT);
	/* SearchParameter resources behind the rows */
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(fhir_search_params[j].id, fhir_search_params[i].id) == 0)
				break;
		distinct += j == i;
	}
	assert_int_equal(distinct, 1375);
	print_message("search parameters: %d rows (resource type, code) from %d SearchParameter "
		      "resources over %d resource types\n", FHIR_SEARCH_PARAM_COUNT, distinct,
		      fhir_resource_type_count());
}

static void test_lookups(void **state)
{
	size_t n;

	(void)state;
	assert_null(fhir_search_param_find("Patient", "nosuch"));
	assert_null(fhir_search_param_find("NotAType", "name"));
	assert_null(fhir_search_param_find("DomainResource", "_id"));
	assert_null(fhir_search_params_for("Nope", &n));
	assert_int_equal(n, 0);
	assert_ptr_equal(fhir_search_param_find_n("Patient?x", 7, "family=y", 6),
			 fhir_search_param_find("Patient", "family"));
	assert_null(fhir_search_param_find_n("Patient", 7, "fam", 3));
	assert_string_equal(fhir_search_type_name(FHIR_SEARCH_QUANTITY), "quantity");
	assert_string_equal(fhir_search_type_name(99), "?");
	assert_int_equal(fhir_search_modifier_bit("of-type", 7), FHIR_SEARCH_MOD_OF_TYPE);
	assert_int_equal(fhir_search_modifier_bit("missing", 7), FHIR_SEARCH_MOD_MISSING);
	assert_int_equal(fhir_search_modifier_bit("exactly", 5), FHIR_SEARCH_MOD_EXACT);
	assert_int_equal(fhir_search_modifier_bit("Patient", 7), 0);
}

static void test_patient(void **state)
{
	static const char *const codes[] = {
		"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_text",
		"_content", "active", "address", "address-city", "birthdate", "death-date",
		"deceased", "email", "family", "gender", "general-practitioner", "given",
		"identifier", "language", "link", "name", "organization", "phone", "phonetic",
		"telecom",
	};
	const struct fhir_search_param *p;
	size_t n;

	(void)state;
	p = fhir_search_params_for("Patient", &n);
	print_message("Patient: %zu parameters\n", n);
	assert_true(n >= sizeof(codes) / sizeof(codes[0]));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_non_null(fhir_search_param_find("Patient", codes[i]));
	(void)p;

	p = find("Patient", "family");
	assert_int_equal(p->type, FHIR_SEARCH_STRING);
	assert_string_equal(p->expression, "Patient.name.family");	/* split from individual-family */
	assert_string_equal(p->id, "individual-family");
	assert_true(p->modifiers & FHIR_SEARCH_MOD_EXACT);
	assert_true(p->modifiers & FHIR_SEARCH_MOD_CONTAINS);
	assert_false(p->modifiers & FHIR_SEARCH_MOD_TEXT);
	assert_int_equal(p->comparators, 0);

	p = find("Patient", "birthdate");
	assert_int_equal(p->type, FHIR_SEARCH_DATE);
	assert_string_equal(p->expression, "Patient.birthDate");
	assert_int_equal(p->comparators, 0x1FF);	/* eq ne gt lt ge le sa eb ap */

	p = find("Patient", "identifier");
	assert_int_equal(p->type, FHIR_SEARCH_TOKEN);
	assert_true(p->modifiers & FHIR_SEARCH_MOD_OF_TYPE);
	assert_true(p->modifiers & FHIR_SEARCH_MOD_TEXT);
	assert_true(p->modifiers & FHIR_SEARCH_MOD_NOT);

	p = find("Patient", "general-practitioner");
	assert_int_equal(p->type, FHIR_SEARCH_REFERENCE);
	assert_int_equal(p->n_target, 3);
	assert_true(has_target(p, "Organization") && has_target(p, "Practitioner") &&
		    has_target(p, "PractitionerRole"));
	assert_true(p->modifiers & FHIR_SEARCH_MOD_IDENTIFIER);
	assert_true(p->modifiers & FHIR_SEARCH_MOD_TYPE);

	p = find("Patient", "phonetic");
	assert_true(p->flags & FHIR_SEARCH_PHONETIC);
	p = find("Patient", "email");
	assert_string_equal(p->expression, "Patient.telecom.where(system='email')");
	p = find("Patient", "deceased");
	assert_string_equal(p->expression,
			    "Patient.deceased.exists() and Patient.deceased != false");
}

static void test_common(void **state)
{
	const struct fhir_search_param *p;

	(void)state;
	p = find("Observation", "_id");
	assert_int_equal(p->type, FHIR_SEARCH_TOKEN);
	assert_string_equal(p->expression, "Resource.id");
	p = find("Bundle", "_lastUpdated");
	assert_int_equal(p->type, FHIR_SEARCH_DATE);
	assert_string_equal(p->expression, "Resource.meta.lastUpdated");
	assert_string_equal(find("Binary", "_tag")->expression, "Resource.meta.tag");
	assert_string_equal(find("Patient", "_profile")->expression, "Resource.meta.profile");
	assert_int_equal(find("Patient", "_profile")->type, FHIR_SEARCH_URI);
	assert_true(find("Patient", "_profile")->modifiers & FHIR_SEARCH_MOD_BELOW);
	assert_string_equal(find("Patient", "_security")->expression, "Resource.meta.security");
	assert_string_equal(find("Patient", "_source")->expression, "Resource.meta.source");
	/* defined without an expression: listed, nothing to extract */
	assert_null(find("Patient", "_content")->expression);
	assert_null(find("Patient", "_text")->expression);
	assert_null(find("Patient", "_query")->expression);
	/* _text is on DomainResource: not on Bundle, Binary, Parameters */
	assert_null(fhir_search_param_find("Bundle", "_text"));
	assert_null(fhir_search_param_find("Binary", "_text"));
	assert_null(fhir_search_param_find("Parameters", "_text"));
	assert_non_null(fhir_search_param_find("Bundle", "_content"));
}

static void test_split_expressions(void **state)
{
	(void)state;
	assert_string_equal(find("Observation", "patient")->expression,
			    "Observation.subject.where(resolve() is Patient)");
	assert_string_equal(find("AllergyIntolerance", "patient")->expression,
			    "AllergyIntolerance.patient");
	assert_string_equal(find("AllergyIntolerance", "code")->expression,
			    "AllergyIntolerance.code | AllergyIntolerance.reaction.substance");
	assert_string_equal(find("MedicationRequest", "code")->expression,
			    "(MedicationRequest.medication as CodeableConcept)");
	assert_string_equal(find("ValueSet", "context-quantity")->expression,
			    "(ValueSet.useContext.value as Quantity) | "
			    "(ValueSet.useContext.value as Range)");
	assert_string_equal(find("Observation", "date")->expression, "Observation.effective");
	assert_string_equal(find("RiskAssessment", "date")->expression,
			    "(RiskAssessment.occurrence as dateTime)");
	/* no row keeps another type's part (parts may also start with an
	 * element name, as InsurancePlan's "name | alias" does) */
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *p = &fhir_search_params[i];
		const char *at = p->expression;

		if (!at || strncmp(at, "Resource.", 9) == 0)
			continue;
		while ((at = strstr(at, "| ")) != NULL) {
			at += 2;
			while (*at == '(')
				at++;
			if (*at < 'A' || *at > 'Z')
				continue;
			if (strncmp(at, p->resource_type, strlen(p->resource_type)) != 0)
				print_error("%s %s: %s\n", p->resource_type, p->code, p->expression);
			assert_int_equal(strncmp(at, p->resource_type, strlen(p->resource_type)), 0);
		}
	}
}

static void test_composites(void **state)
{
	const struct fhir_search_param *p, *c;
	const char *expr = NULL;
	int composites = 0;

	(void)state;
	p = find("Observation", "code-value-quantity");
	assert_int_equal(p->type, FHIR_SEARCH_COMPOSITE);
	assert_int_equal(p->n_component, 2);
	assert_string_equal(p->expression, "Observation");
	c = fhir_search_component_param(p, 0, &expr);
	assert_string_equal(c->code, "code");
	assert_int_equal(c->type, FHIR_SEARCH_TOKEN);
	assert_string_equal(expr, "code");
	c = fhir_search_component_param(p, 1, &expr);
	assert_string_equal(c->code, "value-quantity");
	assert_int_equal(c->type, FHIR_SEARCH_QUANTITY);
	assert_string_equal(expr, "value.as(Quantity)");
	assert_null(fhir_search_component_param(p, 2, &expr));
	p = find("MolecularSequence", "chromosome-variant-coordinate");
	assert_int_equal(p->n_component, 3);
	fhir_search_component_param(p, 0, &expr);
	assert_string_equal(expr, "%resource.referenceSeq.chromosome");
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		p = &fhir_search_params[i];
		if (p->type != FHIR_SEARCH_COMPOSITE) {
			assert_int_equal(p->n_component, 0);
			continue;
		}
		composites++;
		assert_true(p->n_component >= 2);
		for (size_t k = 0; k < p->n_component; k++) {
			c = fhir_search_component_param(p, k, &expr);
			assert_non_null(c);
			assert_string_equal(c->resource_type, p->resource_type);
			assert_int_not_equal(c->type, FHIR_SEARCH_COMPOSITE);
		}
		/* R4 says multipleOr = false on every composite */
		assert_false(p->flags & FHIR_SEARCH_MULTIPLE_OR);
	}
	print_message("composite parameters: %d\n", composites);
}

static void test_every_expression_compiles(void **state)
{
	struct fhirpath_node nodes[FHIRPATH_MAX_NODES];
	int ok = 0, failed = 0, none = 0, components = 0;
	size_t max_nodes = 0;
	int by_type[FHIR_SEARCH_SPECIAL + 1] = { 0 };

	(void)state;
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++) {
		const struct fhir_search_param *p = &fhir_search_params[i];
		struct fhirpath_expr x;
		struct err e = { 0 };

		if (!p->expression) {
			none++;
			assert_null(fhir_search_param_expr(p));
			continue;
		}
		if (fhirpath_compile(p->expression, nodes, FHIRPATH_MAX_NODES, &x, &e) != 0) {
			print_error("%s %s: %s\n", p->resource_type, p->code, e.issue[0].diagnostics);
			failed++;
			continue;
		}
		ok++;
		by_type[p->type]++;
		if (x.n > max_nodes)
			max_nodes = x.n;
		/* the table's own compiled copy is the same program */
		assert_non_null(fhir_search_param_expr(p));
		assert_int_equal(fhir_search_param_expr(p)->n, x.n);
		assert_memory_equal(fhir_search_param_expr(p)->node, nodes,
				    x.n * sizeof(nodes[0]));
		for (size_t k = 0; k < p->n_component; k++) {
			const char *src = NULL;

			fhir_search_component_param(p, k, &src);
			err_clear(&e);
			if (fhirpath_compile(src, nodes, FHIRPATH_MAX_NODES, &x, &e) != 0) {
				print_error("%s %s component %zu: %s\n", p->resource_type, p->code, k,
					    e.issue[0].diagnostics);
				failed++;
			}
			assert_non_null(fhir_search_component_expr(p, k));
			components++;
		}
	}
	print_message("expressions: %d compile, %d fail, %d rows have none (_content, _query, "
		      "_text); %d component expressions; largest %zu nodes\n", ok, failed, none,
		      components, max_nodes);
	print_message("by type: number %d, date %d, string %d, token %d, reference %d, "
		      "composite %d, quantity %d, uri %d, special %d\n",
		      by_type[0], by_type[1], by_type[2], by_type[3], by_type[4], by_type[5],
		      by_type[6], by_type[7], by_type[8]);
	assert_int_equal(failed, 0);
	assert_int_equal(none, 146 + 146 + 143);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_slices),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_patient),
		cmocka_unit_test(test_common),
		cmocka_unit_test(test_split_expressions),
		cmocka_unit_test(test_composites),
		cmocka_unit_test(test_every_expression_compiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
