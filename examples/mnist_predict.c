/* SPDX-License-Identifier: MIT */
/* mnist_predict: classify 28x28 PNG digits with weights saved by mnist_cnn.
 *   mnist_predict --weights runs/mnist_cnn/best.safetensors
 *                 [--model seed|lenet5|cnn_wide] [--normalize]
 *                 [--export-onnx model.onnx] digit1.png [...]
 * Any PNG colour type is converted to 8-bit grayscale (white digit on black,
 * as in MNIST). The preprocessing comes from the weights file's metadata
 * (tg.input_scale, tg.input_mean, tg.input_std); --normalize forces the
 * MNIST mean and std for files saved without it. Prints the predicted class
 * and every class probability. */
#include <tinygrad.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tg_ctx *g_ctx;

static void die(void)
{
    fprintf(stderr, "mnist_predict: %s\n", tg_ctx_last_error(g_ctx));
    exit(1);
}
#define CHECK(call)                                                                            \
    do {                                                                                       \
        if ((call) != TG_OK)                                                                   \
            die();                                                                             \
    } while (0)

#include "mnist_cnn/model.h"

static const char USAGE[] =
    "usage: mnist_predict --weights FILE [--model seed|lenet5|cnn_wide] [--normalize]\n"
    "                     [--threads N] [--export-onnx OUT.onnx] [IMAGE.png...]\n"
    "Classifies 28x28 PNG images (converted to grayscale) with weights saved by\n"
    "mnist_cnn (best.safetensors or last.safetensors) and prints the probabilities.\n"
    "The input scaling and normalisation are read from the file's metadata.\n"
    "  --model        the model mnist_cnn trained (seed)\n"
    "  --normalize    use the MNIST mean and std (for files saved without metadata)\n"
    "  --export-onnx  also write the model as ONNX (input [N,1,28,28], metadata kept)\n";

/* Preprocessing metadata `key` of the weights file into the model (kept for
 * --export-onnx) and its first number ("0.1307" or "0.1,0.2,0.3"); `def`
 * (a string, so the model gets it too) when the file has none. */
static float meta_float(tg_module *net, const char *path, const char *key, const char *def)
{
    char buf[256];
    if (tg_safetensors_get_metadata(g_ctx, path, key, buf, sizeof buf) != TG_OK) {
        tg_ctx_clear_error(g_ctx);
        snprintf(buf, sizeof buf, "%s", def);
    }
    CHECK(tg_module_set_metadata(net, key, buf));
    return strtof(buf, NULL);
}

int main(int argc, char **argv)
{
    const char *weights = NULL, *model = "seed", *onnx = NULL;
    int threads = 1, first = argc, kind = 0;
    bool normalize = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
            weights = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--normalize") == 0) {
            normalize = true;
        } else if (strcmp(argv[i], "--export-onnx") == 0 && i + 1 < argc) {
            onnx = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "mnist_predict: unknown or incomplete option '%s'\n%s", argv[i], USAGE);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    while (kind < N_MODELS && strcmp(model, MODELS[kind]) != 0)
        kind++;
    if (!weights || (first == argc && !onnx) || kind == N_MODELS) {
        fputs(USAGE, stderr);
        return 2;
    }
    tg_ctx_options co;
    tg_ctx_options_init(&co);
    co.n_threads = threads;
    if (tg_ctx_create(&co, &g_ctx) != TG_OK) {
        fprintf(stderr, "mnist_predict: cannot create a context\n");
        return 1;
    }
    tg_module *net = build_model(g_ctx, kind);
    CHECK(tg_module_load(net, weights));
    /* x = (pixel * scale - mean) / std, as saved by mnist_cnn */
    float scale = meta_float(net, weights, "tg.input_scale", "0.00392156862745098");
    float mean = meta_float(net, weights, "tg.input_mean", "0");
    float std = meta_float(net, weights, "tg.input_std", "1");
    if (normalize) { /* override: the MNIST statistics */
        mean = MNIST_MEAN;
        std = MNIST_STD;
        CHECK(tg_module_set_metadata(net, "tg.input_mean", "0.1307"));
        CHECK(tg_module_set_metadata(net, "tg.input_std", "0.3081"));
    }
    if (onnx) {
        const int64_t ex[4] = {1, 1, 28, 28};
        CHECK(tg_module_export_onnx(net, 4, ex, onnx, NULL));
        printf("wrote %s\n", onnx);
    }
    tg_module_train(net, false);
    tg_ctx_set_grad_enabled(g_ctx, false);
    int status = 0;
    for (int i = first; i < argc; i++) {
        uint8_t px[28 * 28];
        float x[28 * 28];
        if (tg_image_load_png(g_ctx, argv[i], 28, 28, px) != TG_OK) {
            fprintf(stderr, "mnist_predict: %s\n", tg_ctx_last_error(g_ctx));
            status = 1;
            continue;
        }
        for (int k = 0; k < 28 * 28; k++) /* as tg_dataset_set_normalization() */
            x[k] = ((float)px[k] * scale - mean) / std;
        const int64_t shape[4] = {1, 1, 28, 28};
        tg_tensor *in = tg_from_data(g_ctx, 4, shape, x, 28 * 28);
        tg_tensor *p = tg_softmax(g_ctx, tg_module_forward(net, in), 1);
        if (!p)
            die();
        const float *prob = tg_tensor_data(p);
        int best = 0;
        for (int c = 1; c < 10; c++)
            best = prob[c] > prob[best] ? c : best;
        printf("%s: %d (p=%.4f)", argv[i], best, (double)prob[best]);
        for (int c = 0; c < 10; c++)
            printf(" %d:%.4f", c, (double)prob[c]);
        printf("\n");
        tg_ctx_reset(g_ctx);
    }
    tg_module_destroy(net);
    tg_ctx_destroy(g_ctx);
    return status;
}
