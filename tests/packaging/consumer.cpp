// SPDX-License-Identifier: MIT
// A C++17 program built with `g++ -std=c++17 -Wall -Werror` and the
// pkg-config flags alone: trains a Linear(4 -> 3) classifier on a fixed,
// separable toy problem for a few SGD steps and checks the loss falls.
#include <tinygrad.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

namespace {

struct CtxDeleter {
    void operator()(tg_ctx *c) const { tg_ctx_destroy(c); }
};
struct ModuleDeleter {
    void operator()(tg_module *m) const { tg_module_destroy(m); }
};
struct OptimDeleter {
    void operator()(tg_optim *o) const { tg_optim_destroy(o); }
};

int fail(tg_ctx *ctx, const char *what)
{
    std::fprintf(stderr, "consumer++: %s failed: %s\n", what,
                 ctx ? tg_ctx_last_error(ctx) : "no context");
    return 1;
}

} // namespace

int main()
{
    tg_ctx_options opts;
    tg_ctx_options_init(&opts);
    opts.n_threads = 1;
    opts.seed = 7;
    tg_ctx *raw_ctx = nullptr;
    if (tg_ctx_create(&opts, &raw_ctx) != TG_OK)
        return fail(nullptr, "tg_ctx_create");
    std::unique_ptr<tg_ctx, CtxDeleter> ctx(raw_ctx);

    tg_module *raw_model = nullptr;
    if (tg_linear_create(ctx.get(), 4, 3, true, &raw_model) != TG_OK)
        return fail(ctx.get(), "tg_linear_create");
    std::unique_ptr<tg_module, ModuleDeleter> model(raw_model);

    tg_sgd_options sgd;
    tg_sgd_options_init(&sgd);
    sgd.lr = 0.1f;
    tg_optim *raw_opt = nullptr;
    if (tg_sgd_create(ctx.get(), model.get(), &sgd, &raw_opt) != TG_OK)
        return fail(ctx.get(), "tg_sgd_create");
    std::unique_ptr<tg_optim, OptimDeleter> opt(raw_opt);

    // 6 samples, class = index of the largest of the first three features.
    const std::vector<float> xs = {
        2, 0, 0, 1, 0, 2, 0, 1, 0, 0, 2, 1,
        1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
    };
    const std::vector<std::int32_t> ys = {0, 1, 2, 0, 1, 2};
    const std::int64_t shape[2] = {6, 4};

    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < 20; step++) {
        tg_optim_zero_grad(opt.get());
        tg_tensor *x = tg_from_data(ctx.get(), 2, shape, xs.data(), xs.size());
        tg_tensor *logits = tg_module_forward(model.get(), x);
        tg_tensor *loss = tg_cross_entropy(ctx.get(), logits, ys.data(), ys.size(),
                                           TG_REDUCTION_MEAN);
        if (!loss)
            return fail(ctx.get(), "forward");
        last = tg_tensor_data(loss)[0];
        if (step == 0)
            first = last;
        if (tg_backward(ctx.get(), loss) != TG_OK)
            return fail(ctx.get(), "tg_backward");
        if (tg_optim_step(opt.get()) != TG_OK)
            return fail(ctx.get(), "tg_optim_step");
        tg_ctx_reset(ctx.get());
    }
    if (!(last < first * 0.8f)) {
        std::fprintf(stderr, "consumer++: loss did not fall: %g -> %g\n", first, last);
        return 1;
    }
    if (tg_optim_step_count(opt.get()) != 20) {
        std::fprintf(stderr, "consumer++: step count %lld, expected 20\n",
                     static_cast<long long>(tg_optim_step_count(opt.get())));
        return 1;
    }
    // The optimiser references the model: destroy it first.
    opt.reset();
    model.reset();
    std::printf("consumer++: OK (loss %.4f -> %.4f)\n", first, last);
    return 0;
}
