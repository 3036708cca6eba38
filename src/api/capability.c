/*
 * capability.c — the CapabilityStatement, built once at start-up.
 *
 * It must tell the truth: it lists only the interactions this build
 * implements. When a later change adds search or transactions, it adds them
 * here in the same commit.
 */
#include "api_int.h"

#include <string.h>
#include "../base/json.h"
#include "../base/time.h"

static const char *const type_interactions[] = {
	"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create",
};

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
	static const char *const system_interactions[] = { "history-system" };
	struct json_object *cs = json_object_new_object(), *rest, *resources, *o;
	char now[TIME_INSTANT_LEN + 1];
	int rc;

	if (!cs)
		return err_set(e, ERR_NOMEM, NULL, "out of memory");
	time_format_instant(time_now_ms(), now);
	json_object_object_add(cs, "resourceType", json_object_new_string("CapabilityStatement"));
	json_object_object_add(cs, "status", json_object_new_string("active"));
	json_object_object_add(cs, "date", json_object_new_string(now));
	json_object_object_add(cs, "publisher", json_object_new_string("lienthong"));
	json_object_object_add(cs, "kind", json_object_new_string("instance"));
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
		json_object_object_add(r, "conditionalCreate", json_object_new_boolean(0));
		json_object_object_add(r, "conditionalRead", json_object_new_string("not-supported"));
		json_object_object_add(r, "conditionalUpdate", json_object_new_boolean(0));
		json_object_object_add(r, "conditionalDelete", json_object_new_string("not-supported"));
		json_object_array_add(resources, r);
	}
	rest = json_object_new_object();
	json_object_object_add(rest, "mode", json_object_new_string("server"));
	json_object_object_add(rest, "resource", resources);
	json_object_object_add(rest, "interaction", codes("code", system_interactions, 1));
	o = json_object_new_array();
	json_object_array_add(o, rest);
	json_object_object_add(cs, "rest", o);

	rc = json_write(&api->capability, cs, 0);
	json_object_put(cs);
	return rc ? err_set(e, rc, NULL, "cannot build the CapabilityStatement") : 0;
}

int api_metadata(struct api_ctx *c)
{
	static const char *const params[] = { "mode", NULL };
	int rc = api_check_params(c, params);

	if (rc)
		return rc;
	c->res->status = 200;
	return api_set_body_json(c, c->api->capability.p, c->api->capability.n);
}
