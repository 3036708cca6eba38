/*
 * test_validate.c — fhir_validate() and the resource type table: each check
 * category, with the expression each issue must carry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/json.h"
#include "fhir/fhir.h"

/* Parses text (which must be valid JSON) and validates it into *e. */
static int run(const char *text, struct err *e)
{
	struct json_object *o = NULL;
	struct err pe = { 0 };
	int rc;

	err_clear(e);
	if (json_parse(text, strlen(text), JSON_DEFAULT_MAX_DEPTH, &o, &pe) != 0) {
		print_error("test input is not JSON: %s\n", pe.issue[0].diagnostics);
		fail();
	}
	rc = fhir_validate(o, e);
	json_object_put(o);
	return rc;
}

static void dump(const struct err *e)
{
	for (int i = 0; i < e->n_issues; i++)
		print_message("  issue %d: [%s] %s\n", i, e->issue[i].expression,
			      e->issue[i].diagnostics);
}

static void assert_valid(const char *text)
{
	struct err e;
	int rc = run(text, &e);

	if (rc != 0) {
		print_error("expected valid: %s\n", text);
		dump(&e);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(e.n_issues, 0);
}

/* Invalid, with (among others) an issue at expr whose message has needle. */
static void assert_issue(const char *text, const char *expr, const char *needle)
{
	struct err e;
	int rc = run(text, &e);

	assert_int_equal(rc, ERR_INVALID);
	assert_int_equal(e.code, ERR_INVALID);
	for (int i = 0; i < e.n_issues; i++)
		if (strcmp(e.issue[i].expression, expr) == 0 &&
		    strstr(e.issue[i].diagnostics, needle))
			return;
	print_error("no issue [%s] containing \"%s\" for %s\n", expr, needle, text);
	dump(&e);
	fail();
}

/* Exactly one issue, at expr. */
static void assert_one_issue(const char *text, const char *expr, const char *needle)
{
	struct err e;

	assert_int_equal(run(text, &e), ERR_INVALID);
	if (e.n_issues != 1)
		dump(&e);
	assert_int_equal(e.n_issues, 1);
	assert_string_equal(e.issue[0].expression, expr);
	assert_non_null(strstr(e.issue[0].diagnostics, needle));
}

#define PATIENT_OK                                                                        \
	"{\"resourceType\":\"Patient\",\"id\":\"p-1.a\","                                 \
	"\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"2024-02-29T10:00:00.123+07:00\"},"  \
	"\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">x</div>\"}," \
	"\"extension\":[{\"url\":\"http://example.org/ext\",\"valueCodeableConcept\":{\"text\":\"t\"}}]," \
	"\"identifier\":[{\"system\":\"urn:oid:1.2.36.146.595.217.0.1\",\"value\":\"12345\"}],"  \
	"\"active\":true,"                                                                \
	"\"name\":[{\"use\":\"official\",\"family\":\"Nguyễn\",\"given\":[\"Văn\",null,\"An\"]," \
	"\"_given\":[null,{\"extension\":[{\"url\":\"http://example.org/x\",\"valueString\":\"B\"}]},null]}]," \
	"\"telecom\":[{\"system\":\"phone\",\"value\":\"+84 28 1234 5678\",\"use\":\"work\",\"rank\":1}]," \
	"\"gender\":\"female\",\"birthDate\":\"1974-12\","                                   \
	"\"_birthDate\":{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/patient-birthTime\"," \
	"\"valueDateTime\":\"1974-12-25T14:35:45-05:00\"}]},"                                 \
	"\"deceasedBoolean\":false,\"multipleBirthInteger\":2,"                             \
	"\"photo\":[{\"contentType\":\"image/png\",\"data\":\"iVBO Rw0K\",\"size\":8}],"     \
	"\"contact\":[{\"relationship\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0131\",\"code\":\"N\"}]}]," \
	"\"gender\":\"male\",\"period\":{\"start\":\"2012\"}}],"                              \
	"\"contained\":[{\"resourceType\":\"Organization\",\"id\":\"org\",\"name\":\"BV Chợ Rẫy\"}]," \
	"\"managingOrganization\":{\"reference\":\"#org\"}}"

static void test_valid_patient(void **state)
{
	(void)state;
	assert_valid(PATIENT_OK);
	assert_valid("{\"resourceType\":\"Patient\"}");
}

static void test_valid_other_resources(void **state)
{
	(void)state;
	assert_valid("{\"resourceType\":\"Observation\",\"status\":\"final\","
		     "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"15074-8\"}]},"
		     "\"subject\":{\"reference\":\"Patient/1\"},"
		     "\"effectiveDateTime\":\"2013-04-02T09:30:10+01:00\","
		     "\"issued\":\"2013-04-03T15:30:10.000Z\","
		     "\"valueQuantity\":{\"value\":6.30,\"unit\":\"mmol/l\",\"comparator\":\">=\","
		     "\"system\":\"http://unitsofmeasure.org\",\"code\":\"mmol/L\"},"
		     "\"referenceRange\":[{\"low\":{\"value\":3.1e0},\"high\":{\"value\":-0.5}}],"
		     "\"component\":[{\"code\":{\"text\":\"t\"},\"valueSampledData\":{\"origin\":{\"value\":0},"
		     "\"period\":0.5,\"dimensions\":1,\"data\":\"1 2 E\"}}]}");
	/* contentReference: Questionnaire.item.item is a Questionnaire.item */
	assert_valid("{\"resourceType\":\"Questionnaire\",\"status\":\"draft\",\"item\":[{\"linkId\":\"1\","
		     "\"type\":\"group\",\"item\":[{\"linkId\":\"1.1\",\"type\":\"boolean\","
		     "\"enableWhen\":[{\"question\":\"1\",\"operator\":\"exists\",\"answerBoolean\":true}]}]}]}");
	assert_valid("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueUuid\":"
		     "\"urn:uuid:c757873d-ec9a-4326-a141-556f43239520\"},{\"name\":\"b\",\"part\":[{\"name\":"
		     "\"c\",\"valueOid\":\"urn:oid:2.16.840.1.113883\"}]},{\"name\":\"r\",\"resource\":"
		     "{\"resourceType\":\"Patient\",\"gender\":\"other\"}},{\"name\":\"t\",\"valueTime\":\"23:59:60.5\"}]}");
	assert_valid("{\"resourceType\":\"MedicationRequest\",\"status\":\"active\",\"intent\":\"order\","
		     "\"medicationCodeableConcept\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/1\"},"
		     "\"dosageInstruction\":[{\"timing\":{\"repeat\":{\"frequency\":2,\"period\":1,\"periodUnit\":\"d\"}},"
		     "\"doseAndRate\":[{\"doseQuantity\":{\"value\":1,\"unit\":\"tab\"}}]}]}");
}

static void test_resource_type(void **state)
{
	(void)state;
	assert_one_issue("{\"id\":\"x\"}", "resourceType", "missing resourceType");
	assert_one_issue("{\"resourceType\":7}", "resourceType", "must be a JSON string");
	assert_one_issue("{\"resourceType\":\"Patients\"}", "resourceType", "not a concrete");
	assert_one_issue("{\"resourceType\":\"patient\"}", "resourceType", "not a concrete");
	assert_one_issue("{\"resourceType\":\"Resource\"}", "resourceType", "not a concrete");
	assert_one_issue("{\"resourceType\":\"DomainResource\"}", "resourceType", "not a concrete");
	assert_one_issue("[{\"resourceType\":\"Patient\"}]", "", "must be a JSON object");
	assert_int_equal(fhir_validate(NULL, NULL), ERR_INVALID);
}

static void test_unknown_elements(void **state)
{
	(void)state;
	assert_one_issue("{\"resourceType\":\"Patient\",\"foo\":1}", "Patient.foo",
			 "unknown element \"foo\" in Patient");
	assert_one_issue("{\"resourceType\":\"Patient\",\"contact\":[{\"nmae\":{\"text\":\"x\"}}]}",
			 "Patient.contact[0].nmae", "in Patient.contact");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"a\"},{\"firstName\":\"x\"}]}",
			 "Patient.name[1].firstName", "in HumanName");
	/* choice types: only the allowed type suffixes, and never the bare name */
	assert_one_issue("{\"resourceType\":\"Patient\",\"deceasedString\":\"yes\"}",
			 "Patient.deceasedString", "unknown element");
	assert_one_issue("{\"resourceType\":\"Patient\",\"deceased\":true}", "Patient.deceased",
			 "unknown element");
	assert_one_issue("{\"resourceType\":\"Patient\",\"deceased[x]\":true}", "Patient.deceased[x]",
			 "unknown element");
	assert_one_issue("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
			 "\"valuequantity\":{\"value\":1}}", "Observation.valuequantity", "unknown element");
	/* resourceType is a property of resources only */
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"resourceType\":\"HumanName\"}]}",
			 "Patient.name[0].resourceType", "unknown element");
}

static void test_choice_groups(void **state)
{
	(void)state;
	assert_one_issue("{\"resourceType\":\"Patient\",\"deceasedBoolean\":true,\"deceasedDateTime\":\"2020\"}",
			 "Patient.deceasedDateTime", "at most one");
	/* an extension on one alternative and a value of another */
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthBoolean\":true,"
			 "\"_multipleBirthInteger\":{\"id\":\"a\"}}", "Patient.multipleBirthInteger",
			 "at most one");
	/* a value and its own extension are one alternative */
	assert_valid("{\"resourceType\":\"Patient\",\"deceasedBoolean\":true,\"_deceasedBoolean\":{\"id\":\"a\"}}");
	/* required choice group: MedicationRequest.medication[x] */
	assert_one_issue("{\"resourceType\":\"MedicationRequest\",\"status\":\"active\",\"intent\":\"order\","
			 "\"subject\":{\"reference\":\"Patient/1\"}}", "MedicationRequest",
			 "missing required element medication[x]");
}

static void test_primitive_extensions(void **state)
{
	(void)state;
	assert_valid("{\"resourceType\":\"Patient\",\"_gender\":{\"extension\":[{\"url\":\"http://x\","
		     "\"valueCode\":\"unk\"}]}}");
	/* _x only for primitives */
	assert_one_issue("{\"resourceType\":\"Patient\",\"_name\":[{\"id\":\"a\"}]}", "Patient._name",
			 "unknown element \"_name\"");
	assert_one_issue("{\"resourceType\":\"Patient\",\"_foo\":{\"id\":\"a\"}}", "Patient._foo",
			 "unknown element");
	/* Element.id and Extension.url are XML attributes, and xhtml has none */
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"id\":\"n\",\"_id\":{\"id\":\"x\"}}]}",
			 "Patient.name[0]._id", "unknown element");
	assert_one_issue("{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://x\","
			 "\"_url\":{\"id\":\"u\"},\"valueString\":\"s\"}]}",
			 "Patient.extension[0]._url", "unknown element");
	assert_one_issue("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"empty\",\"div\":\"<div/>\","
			 "\"_div\":{\"id\":\"d\"}}}", "Patient.text._div", "unknown element");
	/* shapes */
	assert_one_issue("{\"resourceType\":\"Patient\",\"_birthDate\":[{\"id\":\"a\"}]}",
			 "Patient.birthDate", "must be a JSON object");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"a\"],\"_given\":{\"id\":\"x\"}}]}",
			 "Patient.name[0].given", "aligned");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"a\",\"b\"],\"_given\":[null]}]}",
			 "Patient.name[0].given", "must be aligned");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"a\",null],\"_given\":[null,null]}]}",
			 "Patient.name[0].given[1]", "both null");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"a\",null]}]}",
			 "Patient.name[0].given[1]", "null is only allowed");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"_given\":[null]}]}",
			 "Patient.name[0].given[0]", "both null");
	/* the extension object is itself validated as an Element */
	assert_one_issue("{\"resourceType\":\"Patient\",\"_active\":{\"extension\":[{\"valueBoolean\":true}]}}",
			 "Patient.active.extension[0]", "missing required element url");
	assert_one_issue("{\"resourceType\":\"Patient\",\"_active\":{\"value\":true}}",
			 "Patient.active.value", "unknown element");
	assert_one_issue("{\"resourceType\":\"Patient\",\"_active\":{}}", "Patient.active",
			 "empty object");
}

static void test_json_kinds(void **state)
{
	(void)state;
	assert_one_issue("{\"resourceType\":\"Patient\",\"gender\":[\"male\"]}", "Patient.gender",
			 "single value");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":{\"text\":\"x\"}}", "Patient.name",
			 "must be a JSON array");
	assert_one_issue("{\"resourceType\":\"Patient\",\"maritalStatus\":\"M\"}", "Patient.maritalStatus",
			 "CodeableConcept must be a JSON object, not a string");
	assert_one_issue("{\"resourceType\":\"Patient\",\"active\":\"true\"}", "Patient.active",
			 "true or false");
	assert_one_issue("{\"resourceType\":\"Patient\",\"active\":1}", "Patient.active", "true or false");
	assert_one_issue("{\"resourceType\":\"Patient\",\"gender\":1}", "Patient.gender",
			 "code must be a JSON string, not a number");
	assert_one_issue("{\"resourceType\":\"Patient\",\"gender\":null}", "Patient.gender",
			 "null is not allowed");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[null]}", "Patient.name[0]",
			 "null is only allowed in a primitive array");
	assert_one_issue("{\"resourceType\":\"Patient\",\"meta\":{}}", "Patient.meta", "empty object");
	assert_one_issue("{\"resourceType\":\"Patient\",\"identifier\":[]}", "Patient.identifier",
			 "empty arrays");
	assert_one_issue("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\"}]}",
			 "Patient.name[0].family", "empty strings");
	assert_one_issue("{\"resourceType\":\"Patient\",\"contained\":[\"x\"]}", "Patient.contained[0]",
			 "must be a JSON object");
}

static void test_numbers(void **state)
{
	(void)state;
	assert_valid("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":-2147483648}");
	assert_valid("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":2147483647}");
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":2147483648}",
			 "Patient.multipleBirthInteger", "out of range");
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":-2147483649}",
			 "Patient.multipleBirthInteger", "out of range");
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":1.0}",
			 "Patient.multipleBirthInteger", "without fraction");
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":1e2}",
			 "Patient.multipleBirthInteger", "without fraction");
	assert_one_issue("{\"resourceType\":\"Patient\",\"multipleBirthInteger\":\"1\"}",
			 "Patient.multipleBirthInteger", "must be a JSON number");
	/* positiveInt: ContactPoint.rank */
	assert_one_issue("{\"resourceType\":\"Patient\",\"telecom\":[{\"rank\":0}]}", "Patient.telecom[0].rank",
			 "positiveInt 0 is out of range");
	/* unsignedInt: Attachment.size */
	assert_valid("{\"resourceType\":\"Patient\",\"photo\":[{\"size\":0}]}");
	assert_one_issue("{\"resourceType\":\"Patient\",\"photo\":[{\"size\":-1}]}", "Patient.photo[0].size",
			 "unsignedInt -1 is out of range");
	/* decimal: numbers of any shape, never strings */
	assert_valid("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
		     "\"valueQuantity\":{\"value\":-0.000120e-5}}");
	assert_one_issue("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
			 "\"valueQuantity\":{\"value\":\"1.5\"}}", "Observation.valueQuantity.value",
			 "decimal must be a JSON number");
}

static void test_cardinality(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(run("{\"resourceType\":\"Observation\"}", &e), ERR_INVALID);
	assert_int_equal(e.n_issues, 2);
	assert_string_equal(e.issue[0].expression, "Observation");
	assert_non_null(strstr(e.issue[0].diagnostics, "missing required element status"));
	assert_string_equal(e.issue[1].expression, "Observation");
	assert_non_null(strstr(e.issue[1].diagnostics, "missing required element code"));
	/* required in a backbone element and in a datatype */
	assert_one_issue("{\"resourceType\":\"Patient\",\"link\":[{\"type\":\"seealso\"}]}", "Patient.link[0]",
			 "missing required element other");
	assert_one_issue("{\"resourceType\":\"Patient\",\"extension\":[{\"valueString\":\"x\"}]}",
			 "Patient.extension[0]", "missing required element url");
	/* a primitive present only through its extension counts as present */
	assert_valid("{\"resourceType\":\"Observation\",\"_status\":{\"extension\":[{\"url\":"
		     "\"http://hl7.org/fhir/StructureDefinition/data-absent-reason\",\"valueCode\":\"unknown\"}]},"
		     "\"code\":{\"text\":\"x\"}}");
	/* max 0: SimpleQuantity has no comparator */
	assert_one_issue("{\"resourceType\":\"MedicationRequest\",\"status\":\"active\",\"intent\":\"order\","
			 "\"medicationCodeableConcept\":{\"text\":\"x\"},\"subject\":{\"reference\":\"P/1\"},"
			 "\"dosageInstruction\":[{\"doseAndRate\":[{\"doseQuantity\":{\"value\":1,\"comparator\":\"<\"}}]}]}",
			 "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator",
			 "max cardinality 0");
	assert_one_issue("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
			 "\"referenceRange\":[{\"low\":{\"value\":1,\"_comparator\":{\"id\":\"c\"}}}]}",
			 "Observation.referenceRange[0].low.comparator", "max cardinality 0");
}

static void test_formats(void **state)
{
	(void)state;
#define ONE(json, expr, needle) \
	assert_one_issue("{\"resourceType\":\"Patient\"," json "}", "Patient." expr, needle)
	ONE("\"id\":\"a_b\"", "id", "not a valid id");
	ONE("\"id\":\"0123456789012345678901234567890123456789012345678901234567890123X\"", "id",
	    "not a valid id");
	ONE("\"birthDate\":\"2023-02-29\"", "birthDate", "not a valid date");
	ONE("\"birthDate\":\"2023-13\"", "birthDate", "not a valid date");
	ONE("\"birthDate\":\"0000\"", "birthDate", "not a valid date");
	ONE("\"birthDate\":\"2023-01-01T00:00:00Z\"", "birthDate", "not a valid date");
	ONE("\"deceasedDateTime\":\"2023-01-01T10:00:00\"", "deceasedDateTime", "not a valid dateTime");
	ONE("\"deceasedDateTime\":\"2023-01-01T10:00Z\"", "deceasedDateTime", "not a valid dateTime");
	ONE("\"deceasedDateTime\":\"2023-01-01T24:00:00Z\"", "deceasedDateTime", "not a valid dateTime");
	ONE("\"meta\":{\"lastUpdated\":\"2023-01-01\"}", "meta.lastUpdated", "not a valid instant");
	ONE("\"implicitRules\":\"http://x y\"", "implicitRules", "not a valid uri");
	ONE("\"meta\":{\"profile\":[\"http://x\",\"a b\"]}", "meta.profile[1]", "not a valid canonical");
	ONE("\"photo\":[{\"url\":\"http://a\\tb\"}]", "photo[0].url", "not a valid url");
	ONE("\"photo\":[{\"data\":\"abc\"}]", "photo[0].data", "not a valid base64Binary");
	ONE("\"photo\":[{\"data\":\"ab cd\"}]", "photo[0].data", "not a valid base64Binary");
	ONE("\"photo\":[{\"data\":\"ab$=\"}]", "photo[0].data", "not a valid base64Binary");
	ONE("\"language\":\" en\"", "language", "not a valid code");
	ONE("\"language\":\"en  US\"", "language", "not a valid code");
	ONE("\"language\":\"en \"", "language", "not a valid code");
	ONE("\"name\":[{\"text\":\"a\\u0001b\"}]", "name[0].text", "control character");
	ONE("\"text\":{\"status\":\"generated\",\"div\":\"\"}", "text.div", "empty strings");
	ONE("\"text\":{\"status\":\"generated\",\"div\":\"hello\"}", "text.div", "<div> element");
	ONE("\"text\":{\"status\":\"generated\",\"div\":\"<p>x</p>\"}", "text.div", "<div> element");
	ONE("\"text\":{\"status\":\"generated\",\"div\":\"<divx>a</divx>\"}", "text.div", "<div> element");
	ONE("\"text\":{\"status\":\"generated\",\"div\":\"<div>a\"}", "text.div", "<div> element");
	ONE("\"implicitRules\":\"http://x\\u0001y\"", "implicitRules", "control character");
	ONE("\"gender\":\"male\\u0007\"", "gender", "control character");
#undef ONE
	assert_valid("{\"resourceType\":\"Patient\",\"language\":\"en US\",\"name\":[{\"text\":\"a\\tb\\r\\n\"}]}");
	assert_valid("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":"
		     "\"\\n <div\\nxmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p>x</p></div> \"}}");
	assert_valid("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"empty\",\"div\":\"<div/>\"}}");
	/* oid, uuid, time, markdown (via other resources) */
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueOid\":"
			 "\"urn:oid:1.02\"}]}", "Parameters.parameter[0].valueOid", "not a valid oid");
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueOid\":"
			 "\"urn:oid:3.1\"}]}", "Parameters.parameter[0].valueOid", "not a valid oid");
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueUuid\":"
			 "\"urn:uuid:C757873D-EC9A-4326-A141-556F43239520\"}]}",
			 "Parameters.parameter[0].valueUuid", "not a valid uuid");
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueTime\":"
			 "\"24:00:00\"}]}", "Parameters.parameter[0].valueTime", "not a valid time");
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueInstant\":"
			 "\"2020-01-01T00:00:00+14:30\"}]}", "Parameters.parameter[0].valueInstant",
			 "not a valid instant");
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"valueMarkdown\":"
			 "\"\"}]}", "Parameters.parameter[0].valueMarkdown", "empty strings");
}

static void test_nested_resources(void **state)
{
	(void)state;
	assert_one_issue("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
			 "{\"resource\":{\"resourceType\":\"Patient\"}},"
			 "{\"resource\":{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"a\"],\"foo\":1}]}}]}",
			 "Bundle.entry[1].resource.name[0].foo", "unknown element \"foo\" in HumanName");
	assert_one_issue("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
			 "{\"resource\":{\"resourceType\":\"Bogus\"}}]}",
			 "Bundle.entry[0].resource.resourceType", "not a concrete");
	assert_one_issue("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
			 "{\"resource\":{\"id\":\"x\"}}]}",
			 "Bundle.entry[0].resource.resourceType", "missing resourceType");
	assert_one_issue("{\"resourceType\":\"Patient\",\"contained\":[{\"resourceType\":\"Observation\","
			 "\"status\":\"final\",\"code\":{\"text\":\"x\"}},{\"resourceType\":\"Patient\","
			 "\"gender\":\"M\"}]}", "Patient.contained[1].gender", "required value set");
	/* Bundle in a Bundle in Parameters, and a response outcome */
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"b\",\"resource\":"
			 "{\"resourceType\":\"Bundle\",\"type\":\"batch-response\",\"entry\":[{\"response\":{\"status\":"
			 "\"400\",\"outcome\":{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\","
			 "\"code\":\"oops\"}]}}}]}}]}",
			 "Parameters.parameter[0].resource.entry[0].response.outcome.issue[0].code",
			 "required value set");
	/* Parameters.parameter.part is a contentReference to Parameters.parameter */
	assert_one_issue("{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"a\",\"part\":[{\"name\":"
			 "\"b\",\"part\":[{\"valueString\":\"x\"}]}]}]}", "Parameters.parameter[0].part[0].part[0]",
			 "missing required element name");
}

static void test_bindings(void **state)
{
	(void)state;
	assert_one_issue("{\"resourceType\":\"Patient\",\"gender\":\"M\"}", "Patient.gender",
			 "\"M\" is not a code of the required value set "
			 "http://hl7.org/fhir/ValueSet/administrative-gender (female | male | other | unknown)");
	assert_one_issue("{\"resourceType\":\"Observation\",\"status\":\"done\",\"code\":{\"text\":\"x\"}}",
			 "Observation.status", "observation-status");
	assert_one_issue("{\"resourceType\":\"Bundle\",\"type\":\"Collection\"}", "Bundle.type",
			 "bundle-type");
	assert_one_issue("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":"
			 "{\"method\":\"FETCH\",\"url\":\"Patient\"}}]}", "Bundle.entry[0].request.method",
			 "http-verb");
	assert_one_issue("{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},"
			 "\"valueQuantity\":{\"value\":1,\"comparator\":\"=<\"}}",
			 "Observation.valueQuantity.comparator", "quantity-comparator");
	/* codes of a hierarchical code system (request-intent: order > original-order) */
	assert_valid("{\"resourceType\":\"ServiceRequest\",\"status\":\"active\",\"intent\":\"original-order\","
		     "\"subject\":{\"reference\":\"Patient/1\"}}");
	/* bindings to big or open value sets (mime types) are not checked */
	assert_valid("{\"resourceType\":\"Patient\",\"photo\":[{\"contentType\":\"x-made/up\"}]}");
}

/* One walk reports every problem, each at its own place. */
static void test_many_issues(void **state)
{
	static const char text[] =
		"{\"resourceType\":\"Patient\",\"gender\":\"mal\",\"birthDate\":\"2023-02-29\","
		"\"foo\":1,\"deceasedBoolean\":true,\"deceasedDateTime\":\"2020\","
		"\"contact\":[{\"gender\":\"x\"}],\"active\":\"true\",\"multipleBirthInteger\":1.5}";
	struct err e;

	(void)state;
	assert_int_equal(run(text, &e), ERR_INVALID);
	assert_int_equal(e.n_issues, 7);
	assert_issue(text, "Patient.gender", "required value set");
	assert_issue(text, "Patient.birthDate", "not a valid date");
	assert_issue(text, "Patient.foo", "unknown element");
	assert_issue(text, "Patient.deceasedDateTime", "at most one");
	assert_issue(text, "Patient.contact[0].gender", "required value set");
	assert_issue(text, "Patient.active", "true or false");
	assert_issue(text, "Patient.multipleBirthInteger", "without fraction");
}

static void test_issue_cap(void **state)
{
	struct err e;
	char text[2048];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"resourceType\":\"Patient\"");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ",\"bad%d\":1", i);
	snprintf(text + n, sizeof(text) - n, "}");
	assert_int_equal(run(text, &e), ERR_INVALID);
	assert_int_equal(e.n_issues, ERR_MAX_ISSUES);
	assert_int_equal(e.n_dropped, 20 - ERR_MAX_ISSUES);
	assert_string_equal(e.issue[0].expression, "Patient.bad0");
	assert_string_equal(e.issue[15].expression, "Patient.bad15");
}

static void test_err_untouched_on_success(void **state)
{
	struct json_object *o = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(json_parse(PATIENT_OK, strlen(PATIENT_OK), 64, &o, &e), 0);
	assert_int_equal(fhir_validate(o, &e), 0);
	assert_int_equal(e.code, ERR_OK);
	assert_int_equal(e.n_issues, 0);
	assert_int_equal(fhir_validate(o, NULL), 0);
	json_object_put(o);
}

/* A tree built in memory is not bounded by json_parse's depth limit. */
static void test_depth_limit(void **state)
{
	struct json_object *root = json_object_new_object();
	struct json_object *items = json_object_new_array();
	struct err e = { 0 };

	(void)state;
	json_object_object_add(root, "resourceType", json_object_new_string("Questionnaire"));
	json_object_object_add(root, "status", json_object_new_string("draft"));
	json_object_object_add(root, "item", items);
	for (int i = 0; i < 500; i++) {
		struct json_object *item = json_object_new_object();
		struct json_object *next = json_object_new_array();

		json_object_object_add(item, "linkId", json_object_new_string("x"));
		json_object_object_add(item, "type", json_object_new_string("group"));
		json_object_array_add(items, item);
		json_object_object_add(item, "item", next);
		items = next;
	}
	json_object_array_add(items, json_object_new_string("leaf"));
	assert_int_equal(fhir_validate(root, &e), ERR_INVALID);
	assert_int_equal(e.n_issues, 1);
	assert_non_null(strstr(e.issue[0].diagnostics, "nests more than"));
	json_object_put(root);
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int len = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 0;

		if (len == 0)
			return 0;
		for (int i = 1; i < len; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += len;
	}
	return 1;
}

/* Values and keys quoted in diagnostics, and long expressions, are cut to
 * fit; never in the middle of a UTF-8 sequence (they end up in JSON). */
static void test_utf8_safe_diagnostics(void **state)
{
	char text[4096];
	char key[400];
	struct err e;
	size_t n = 0;

	(void)state;
	/* "ệ" is 3 bytes: 22 of them straddle the 64-byte quote limit */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"resourceType\":\"Patient\",\"gender\":\"x");
	for (int i = 0; i < 22; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "ệ");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "\",\"contact\":[{\"name\":{\"");
	for (int i = 0; i < 100; i++)
		memcpy(key + 3 * i, "ệ", 3);
	key[300] = '\0';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\":1}}]}", key);
	assert_int_equal(run(text, &e), ERR_INVALID);
	assert_int_equal(e.n_issues, 2);
	for (int i = 0; i < e.n_issues; i++) {
		assert_true(utf8_valid(e.issue[i].diagnostics));
		assert_true(utf8_valid(e.issue[i].expression));
	}
	assert_non_null(strstr(e.issue[0].diagnostics, "...\" is not a code"));
	assert_int_equal(strncmp(e.issue[1].expression, "Patient.contact[0].name.ệ", 27), 0);
	assert_true(strlen(e.issue[1].expression) > ERR_EXPR_MAX - 5);
}

static void test_resource_type_table(void **state)
{
	int n = fhir_resource_type_count();

	(void)state;
	assert_int_equal(n, 146);
	assert_string_equal(fhir_resource_type_name(0), "Account");
	assert_string_equal(fhir_resource_type_name(n - 1), "VisionPrescription");
	assert_null(fhir_resource_type_name(-1));
	assert_null(fhir_resource_type_name(n));
	for (int i = 0; i < n; i++) {
		const char *name = fhir_resource_type_name(i);

		assert_int_equal(fhir_resource_type_index(name, strlen(name)), i);
		if (i > 0)
			assert_true(strcmp(fhir_resource_type_name(i - 1), name) < 0);
	}
	assert_true(fhir_resource_type_index("Patient", 7) >= 0);
	assert_true(fhir_resource_type_index("PatientX", 7) >= 0);	/* counted bytes */
	assert_int_equal(fhir_resource_type_index("Patien", 6), -1);
	assert_int_equal(fhir_resource_type_index("Patients", 8), -1);
	assert_int_equal(fhir_resource_type_index("patient", 7), -1);
	assert_int_equal(fhir_resource_type_index("Resource", 8), -1);
	assert_int_equal(fhir_resource_type_index("DomainResource", 14), -1);
	assert_int_equal(fhir_resource_type_index("", 0), -1);
	assert_int_equal(fhir_resource_type_index(NULL, 0), -1);
}

static void test_id_valid(void **state)
{
	char id[FHIR_ID_MAX + 1];

	(void)state;
	assert_true(fhir_id_valid("a", 1));
	assert_true(fhir_id_valid("A-z.0", 5));
	assert_true(fhir_id_valid("a/b", 1));	/* counted bytes */
	assert_false(fhir_id_valid("", 0));
	assert_false(fhir_id_valid(NULL, 0));
	assert_false(fhir_id_valid("a/b", 3));
	assert_false(fhir_id_valid("a b", 3));
	assert_false(fhir_id_valid("a_b", 3));
	assert_false(fhir_id_valid("é", 2));
	memset(id, 'x', sizeof(id));
	assert_true(fhir_id_valid(id, FHIR_ID_MAX));
	assert_false(fhir_id_valid(id, FHIR_ID_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_patient),
		cmocka_unit_test(test_valid_other_resources),
		cmocka_unit_test(test_resource_type),
		cmocka_unit_test(test_unknown_elements),
		cmocka_unit_test(test_choice_groups),
		cmocka_unit_test(test_primitive_extensions),
		cmocka_unit_test(test_json_kinds),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_cardinality),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_nested_resources),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_many_issues),
		cmocka_unit_test(test_issue_cap),
		cmocka_unit_test(test_err_untouched_on_success),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_utf8_safe_diagnostics),
		cmocka_unit_test(test_resource_type_table),
		cmocka_unit_test(test_id_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
