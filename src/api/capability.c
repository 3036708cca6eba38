/*
 * capability.c — the CapabilityStatement, built once at start-up.
 *
 * It must tell the truth: it lists only the interactions and search
 * parameters this build implements. When a later change adds transactions
 * or operations, it adds them here in the same commit (type_operations).
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include "../base/json.h"
#include "../base/time.h"
#include "../fhir/search.h"

static const char *const type_interactions[] = {
	"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
	"search-type",
};

/* The operations this build answers at type or instance level (api.c's
 * operation table), with their official definitions. */
static const struct type_operation {
	const char *type, *name, *definition;
} type_operations[] = {
	{ "Patient", "everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything" },
};

/* CapabilityStatement.rest.resource.operation of type, when it has any. */
static void add_operations(struct json_object *r, const char *type)
{
	struct json_object *ops = NULL;

	json_object_object_get_ex(r, "operation", &ops);	/* $export's, when enabled */
	for (size_t i = 0; i < sizeof(type_operations) / sizeof(type_operations[0]); i++) {
		struct json_object *o;

		if (strcmp(type_operations[i].type, type))
			continue;
		if (!ops)
			ops = json_object_new_array();
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(type_operations[i].name));
		json_object_object_add(o, "definition",
				       json_object_new_string(type_operations[i].definition));
		json_object_array_add(ops, o);
	}
	if (ops && !json_object_object_get_ex(r, "operation", NULL))
		json_object_object_add(r, "operation", ops);
}

/* Whether this build answers searches on p (search_query.c refuses the rest). */
static int param_supported(const struct fhir_search_param *p)
{
	if (!strcmp(p->code, "_id") || !strcmp(p->code, "_lastUpdated"))
		return 1;
	return p->expression != NULL;
}

/* "Type:param" to rev when p is a reference parameter that may point at `type`. */
static void add_revinclude(struct json_object *rev, const struct fhir_search_param *p,
			   const char *type)
{
	char name[160];

	if (p->type != FHIR_SEARCH_REFERENCE || !p->expression)
		return;
	for (size_t t = 0; t < p->n_target; t++) {
		if (strcmp(p->target[t], type))
			continue;
		snprintf(name, sizeof(name), "%s:%s", p->resource_type, p->code);
		json_object_array_add(rev, json_object_new_string(name));
		return;
	}
}

/* searchParam, searchInclude and searchRevInclude of resource type `type`. */
static void add_search(struct json_object *r, const char *type)
{
	struct json_object *params = json_object_new_array(), *inc = json_object_new_array();
	struct json_object *rev = json_object_new_array();
	const struct fhir_search_customs *custom = fhir_search_customs();
	const struct fhir_search_param *all, *p;
	int ti = fhir_resource_type_index(type, strlen(type));
	char name[160];
	size_t n;

	all = fhir_search_params_for(type, &n);
	for (size_t i = 0; (p = i < n ? &all[i] : fhir_search_customs_param(custom, ti, i - n)); i++) {
		const char *url = fhir_search_custom_url(p);
		struct json_object *o;

		if (!param_supported(p))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(p->code));
		if (!url) {
			snprintf(name, sizeof(name), "http://hl7.org/fhir/SearchParameter/%s", p->id);
			url = name;
		}
		json_object_object_add(o, "definition", json_object_new_string(url));
		json_object_object_add(o, "type", json_object_new_string(fhir_search_type_name(p->type)));
		json_object_array_add(params, o);
		if (p->type == FHIR_SEARCH_REFERENCE) {
			snprintf(name, sizeof(name), "%s:%s", type, p->code);
			json_object_array_add(inc, json_object_new_string(name));
		}
	}
	snprintf(name, sizeof(name), "%s:*", type);
	json_object_array_add(inc, json_object_new_string(name));
	/* Every reference parameter of any type that may point at this one:
	 * the generated table's, then each type's custom ones. */
	for (size_t i = 0; i < FHIR_SEARCH_PARAM_COUNT; i++)
		add_revinclude(rev, &fhir_search_params[i], type);
	for (int t = 0; t < fhir_resource_type_count(); t++)
		for (size_t i = 0; (p = fhir_search_customs_param(custom, t, i)); i++)
			add_revinclude(rev, p, type);
	json_object_object_add(r, "searchInclude", inc);
	if (json_object_array_length(rev))
		json_object_object_add(r, "searchRevInclude", rev);
	else
		json_object_put(rev);
	json_object_object_add(r, "searchParam", params);
}

/* Bulk Data $export (export.c): Patient and Group level, on those types. */
#define BULK_DATA_OPS "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"

/* Stands for the server's root in the built statement; api_metadata puts the
 * root the client used in its place. */
#define CAPABILITY_ROOT "{{lienthong-root}}"

static struct json_object *uri_extension(const char *url, const char *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "valueUri", json_object_new_string(value));
	return o;
}

/* rest.security: SMART on FHIR (decision 0018), with the OAuth endpoints of
 * SMART App Launch's oauth-uris extension (the discovery document at
 * .well-known/smart-configuration says the same, and more). */
static struct json_object *security(void)
{
	struct json_object *sec = json_object_new_object(), *svc = json_object_new_object();
	struct json_object *coding = json_object_new_object(), *arr, *uris, *ext;

	json_object_object_add(sec, "cors", json_object_new_boolean(1));
	json_object_object_add(coding, "system", json_object_new_string(
		"http://terminology.hl7.org/CodeSystem/restful-security-service"));
	json_object_object_add(coding, "code", json_object_new_string("SMART-on-FHIR"));
	arr = json_object_new_array();
	json_object_array_add(arr, coding);
	json_object_object_add(svc, "coding", arr);
	json_object_object_add(svc, "text", json_object_new_string("OAuth2 using SMART-on-FHIR profile"));
	arr = json_object_new_array();
	json_object_array_add(arr, svc);
	json_object_object_add(sec, "service", arr);
	json_object_object_add(sec, "description", json_object_new_string(
		"Every request for health data needs a bearer token (SMART on FHIR v2 scopes) from "
		"the token endpoint; see .well-known/smart-configuration. Every access is audited."));
	uris = json_object_new_array();
	json_object_array_add(uris, uri_extension("authorize", CAPABILITY_ROOT "/auth/authorize"));
	json_object_array_add(uris, uri_extension("token", CAPABILITY_ROOT "/auth/token"));
	json_object_array_add(uris, uri_extension("revoke", CAPABILITY_ROOT "/auth/revoke"));
	ext = json_object_new_object();
	json_object_object_add(ext, "url", json_object_new_string(
		"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"));
	json_object_object_add(ext, "extension", uris);
	arr = json_object_new_array();
	json_object_array_add(arr, ext);
	json_object_object_add(sec, "extension", arr);
	return sec;
}

static struct json_object *operation(const char *name, const char *definition)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "definition", json_object_new_string(definition));
	return o;
}

static void add_export(struct json_object *r, const char *type)
{
	struct json_object *ops;

	if (strcmp(type, "Patient") && strcmp(type, "Group"))
		return;
	ops = json_object_new_array();
	json_object_array_add(ops, operation("export", !strcmp(type, "Patient")
						      ? BULK_DATA_OPS "patient-export"
						      : BULK_DATA_OPS "group-export"));
	json_object_object_add(r, "operation", ops);
}

static struct json_object *codes(const char *key, const char *const *list, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, key, json_object_new_string(list[i]));
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *strings(const char *const *list, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(list[i]));
	return arr;
}

int api_capability_build(struct api *api, struct err *e)
{
	static const char *const formats[] = { "application/fhir+json", "json" };
	static const char *const patch_formats[] = { "application/json-patch+json" };
	static const char *const system_interactions[] = { "transaction", "batch", "history-system",
							   "search-system" };
	struct json_object *cs = json_object_new_object(), *rest, *resources, *o;
	char now[TIME_INSTANT_LEN + 1];
	int rc;

	if (!cs)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	api->capability_gen = fhir_search_customs_generation(fhir_search_customs());
	buf_clear(&api->capability);
	time_format_instant(time_now_ms(), now);
	json_object_object_add(cs, "resourceType", json_object_new_string("CapabilityStatement"));
	json_object_object_add(cs, "status", json_object_new_string("active"));
	json_object_object_add(cs, "date", json_object_new_string(now));
	json_object_object_add(cs, "publisher", json_object_new_string("lienthong"));
	json_object_object_add(cs, "kind", json_object_new_string("instance"));
	if (api->cfg.export_dir) {
		o = json_object_new_array();
		json_object_array_add(o, json_object_new_string(
			"http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"));
		json_object_object_add(cs, "instantiates", o);
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string("lienthong"));
	json_object_object_add(o, "version", json_object_new_string(LT_VERSION));
	json_object_object_add(cs, "software", o);
	o = json_object_new_object();
	json_object_object_add(o, "description",
			       json_object_new_string("lienthong FHIR R4 server (health information exchange)"));
	if (api->base_url)
		json_object_object_add(o, "url", json_object_new_string(api->base_url));
	json_object_object_add(cs, "implementation", o);
	json_object_object_add(cs, "fhirVersion", json_object_new_string(FHIR_VERSION));
	json_object_object_add(cs, "format", strings(formats, 2));
	json_object_object_add(cs, "patchFormat", strings(patch_formats, 1));

	resources = json_object_new_array();
	for (int i = 0; i < fhir_resource_type_count(); i++) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "type", json_object_new_string(fhir_resource_type_name(i)));
		json_object_object_add(r, "interaction",
				       codes("code", type_interactions,
					     sizeof(type_interactions) / sizeof(type_interactions[0])));
		json_object_object_add(r, "versioning", json_object_new_string("versioned-update"));
		json_object_object_add(r, "readHistory", json_object_new_boolean(1));
		json_object_object_add(r, "updateCreate", json_object_new_boolean(1));
		json_object_object_add(r, "conditionalCreate", json_object_new_boolean(1));
		json_object_object_add(r, "conditionalRead", json_object_new_string("not-supported"));
		json_object_object_add(r, "conditionalUpdate", json_object_new_boolean(1));
		json_object_object_add(r, "conditionalDelete",
				       json_object_new_string(api->cfg.delete_multiple ? "multiple" : "single"));
		add_search(r, fhir_resource_type_name(i));
		if (api->cfg.export_dir)
			add_export(r, fhir_resource_type_name(i));
		add_operations(r, fhir_resource_type_name(i));
		json_object_array_add(resources, r);
	}
	rest = json_object_new_object();
	json_object_object_add(rest, "mode", json_object_new_string("server"));
	if (api->cfg.keys_dir)
		json_object_object_add(rest, "security", security());
	json_object_object_add(rest, "resource", resources);
	json_object_object_add(rest, "interaction", codes("code", system_interactions, 4));
	{
		static const char *const sys_params[][3] = {
			{ "_id", "Resource-id", "token" },
			{ "_lastUpdated", "Resource-lastUpdated", "date" },
			{ "_type", NULL, "token" },
		};
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < 3; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "name", json_object_new_string(sys_params[i][0]));
			if (sys_params[i][1]) {
				char def[96];

				snprintf(def, sizeof(def), "http://hl7.org/fhir/SearchParameter/%s",
					 sys_params[i][1]);
				json_object_object_add(o, "definition", json_object_new_string(def));
			}
			json_object_object_add(o, "type", json_object_new_string(sys_params[i][2]));
			json_object_array_add(arr, o);
		}
		json_object_object_add(rest, "searchParam", arr);
	}
	o = json_object_new_array();
	/* $import: an NDJSON body, loaded synchronously (load.c, decision 0010). */
	json_object_array_add(o, operation("import", "https://lienthong.vn/fhir/OperationDefinition/import"));
	if (api->cfg.export_dir)
		json_object_array_add(o, operation("export", BULK_DATA_OPS "export"));
	json_object_object_add(rest, "operation", o);
	o = json_object_new_array();
	json_object_array_add(o, rest);
	json_object_object_add(cs, "rest", o);

	rc = json_write(&api->capability, cs, 0);
	json_object_put(cs);
	return rc ? err_set(e, rc, NULL, "cannot build the CapabilityStatement") : 0;
}

static int metadata_body(struct api_ctx *c);

/* Under the lock: the statement is rebuilt when the custom search
 * parameters have changed since it was. */
int api_metadata(struct api_ctx *c)
{
	static const char *const params[] = { "mode", NULL };
	struct api *api = c->api;
	int rc = api_check_params(c, params);

	if (rc)
		return rc;
	pthread_mutex_lock(&api->capability_lock);
	if (api->capability_gen != fhir_search_customs_generation(fhir_search_customs()))
		rc = api_capability_build(api, &c->err);
	if (!rc)
		rc = metadata_body(c);
	pthread_mutex_unlock(&api->capability_lock);
	return rc;
}

static int metadata_body(struct api_ctx *c)
{
	const char *p = c->api->capability.p, *end = p + c->api->capability.n, *at;
	char root[API_BASE_MAX];
	struct buf b, esc;
	int rc;

	c->res->status = 200;
	if (!memmem(p, (size_t)(end - p), CAPABILITY_ROOT, strlen(CAPABILITY_ROOT)))
		return api_set_body_json(c, p, (size_t)(end - p));
	/* The OAuth URLs are absolute: this server's root as the client sees it. */
	api_root(c, root, sizeof(root));
	buf_init(&b, c->api->capability.n + 256);
	buf_init(&esc, 0);
	rc = json_write_string(&esc, root);
	while (!rc && (at = memmem(p, (size_t)(end - p), CAPABILITY_ROOT, strlen(CAPABILITY_ROOT)))) {
		rc = buf_append(&b, p, (size_t)(at - p)) || buf_append(&b, esc.p + 1, esc.n - 2);
		p = at + strlen(CAPABILITY_ROOT);
	}
	if (!rc)
		rc = buf_append(&b, p, (size_t)(end - p));
	if (!rc)
		api_take_body_json(c, &b);
	buf_release(&b);
	buf_release(&esc);
	return rc ? err_set(&c->err, ERR_NOMEM, NULL, "out of memory") : 0;
}
