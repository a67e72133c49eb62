/* err.c - names for DN_E* codes. */
#include "core/err.h"

const char *dn_strerror(int code)
{
	switch (code) {
	case DN_OK: return "OK";
	case DN_EINVAL: return "EINVAL";
	case DN_ENOMEM: return "ENOMEM";
	case DN_ENOENT: return "ENOENT";
	case DN_EIO: return "EIO";
	case DN_ETIMEDOUT: return "ETIMEDOUT";
	case DN_ECLOSED: return "ECLOSED";
	case DN_EPROTO: return "EPROTO";
	case DN_EFULL: return "EFULL";
	case DN_EEXIST: return "EEXIST";
	case DN_ERANGE: return "ERANGE";
	case DN_ESTATE: return "ESTATE";
	case DN_ENET: return "ENET";
	default: return "EUNKNOWN";
	}
}
