/* IFLOW_API marks the functions libinfoflow exports. The library is compiled with
 * -fvisibility=hidden, so only these are visible to programs and language bindings; everything
 * else, internal helpers included, stays inside it. tools/export_api.py adds the mark to every
 * function declared in include/infoflow/ (CI checks that none is missing). */
#ifndef IFLOW_API_H
#define IFLOW_API_H

#if defined(__GNUC__) || defined(__clang__)
#define IFLOW_API __attribute__((visibility("default")))
#else
#define IFLOW_API
#endif

#endif
