/* params.cc: where kernels find their arguments, and their __launch_bounds__.
 *
 * Parameter space: a launch's arguments, converted to the kernel's parameter types, live in one
 * mapped range (as a GPU keeps them in a constant bank), so the memory checks can tell a kernel
 * reading its parameters from a kernel reading host memory. Blocks come in classes of 64 bytes
 * and are reused; a block's class sits in the 64 bytes before it.
 *
 * Launch bounds: kernels/emu_wrap.py registers each kernel's bound by name at start-up, since a
 * C++ program cannot read a function's attributes. */
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "emu_internal.h"

namespace baton_emu {

static const size_t PARAM_LIMIT = 32764;
static const size_t PARAM_SPACE = 256u << 20, PARAM_CLASS = 64;
static char *param_base = nullptr;
static size_t param_bump = 0;
static std::vector<void *> param_free_lists[PARAM_LIMIT / PARAM_CLASS + 2];

static void param_init()
{
    if (param_base)
        return;
    void *m = mmap(nullptr, PARAM_SPACE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        std::fprintf(stderr, "baton-emu: cannot map the kernel parameter space\n");
        std::abort();
    }
    param_base = (char *)m;
}

void *param_alloc(size_t bytes)
{
    param_init();
    size_t cls = (bytes + PARAM_CLASS - 1) / PARAM_CLASS;
    if (cls >= sizeof param_free_lists / sizeof param_free_lists[0])
        cls = sizeof param_free_lists / sizeof param_free_lists[0] - 1; /* refused at launch */
    auto &fl = param_free_lists[cls];
    if (!fl.empty()) {
        void *p = fl.back();
        fl.pop_back();
        return p;
    }
    size_t need = (cls + 1) * PARAM_CLASS; /* one header slot holds the class */
    if (param_bump + need > PARAM_SPACE) {
        std::fprintf(stderr, "baton-emu: kernel parameter space exhausted (too many launches pending)\n");
        std::abort();
    }
    char *p = param_base + param_bump;
    param_bump += need;
    *(size_t *)p = cls;
    return p + PARAM_CLASS;
}

void param_free(void *p)
{
    size_t cls = *(size_t *)((char *)p - PARAM_CLASS);
    param_free_lists[cls].push_back(p);
}

bool param_contains(uintptr_t a, size_t n)
{
    return param_base && a - (uintptr_t)param_base < PARAM_SPACE && n <= PARAM_SPACE - (a - (uintptr_t)param_base);
}

static std::map<std::string, int> &bounds()
{
    static std::map<std::string, int> m;
    return m;
}

/* "baton_cell_kernel<Args, At>" -> "baton_cell_kernel" */
std::string kernel_base_name(const char *name)
{
    std::string s(name);
    size_t lt = s.find('<');
    if (lt != std::string::npos)
        s.resize(lt);
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    size_t colon = s.rfind("::");
    return colon == std::string::npos ? s : s.substr(colon + 2);
}

int kernel_bound(const char *name)
{
    auto it = bounds().find(kernel_base_name(name));
    return it == bounds().end() ? 1024 : it->second;
}

} // namespace baton_emu

extern "C" void baton_emu_register_bounds(const char *name, int max_threads)
{
    baton_emu::bounds()[name] = max_threads;
}

extern "C" void *baton_emu_param_alloc(size_t bytes)
{
    return baton_emu::param_alloc(bytes);
}
