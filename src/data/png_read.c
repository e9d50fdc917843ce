/* The one translation unit that compiles stb_image's decoder (PNG only: CityScapes and the
 * synthetic writer use nothing else, and with other formats disabled a file of garbage bytes
 * cannot be mistaken for a loosely-checked format such as TGA). Everything else includes
 * <stb_image.h> for declarations only. stb's own warnings are silenced here, not globally. */
#pragma GCC diagnostic push
#include "data/stb-impl.h"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb_image.h>
#pragma GCC diagnostic pop
