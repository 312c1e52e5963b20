/* gst-vibevoice — VibeVoice speech synthesis engine
 * Copyright (C) 2026 gst-vibevoice developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <vibevoice/vv-tensor.h>
#include <vibevoice/vv-backend.h>
#include <vibevoice/vv-threadpool.h>
#include <vibevoice/vv-safetensors.h>
#include <vibevoice/vv-tokenizer.h>
#include <vibevoice/vv-config.h>
#include <vibevoice/vv-layout.h>
#include <vibevoice/vv-model.h>
#include <vibevoice/vv-rng.h>
#include <vibevoice/vv-speech-tokenizer.h>
#include <vibevoice/vv-npy.h>
#include <vibevoice/vv-processor.h>
#include <vibevoice/vv-connector.h>
#include <vibevoice/vv-voice-prompt.h>
#include <vibevoice/vv-lm.h>
#include <vibevoice/vv-scheduler.h>
#include <vibevoice/vv-diffusion-head.h>
#include <vibevoice/vv-prompt.h>
#include <vibevoice/vv-dialog.h>
#include <vibevoice/vv-voices.h>
#include <vibevoice/vv-usage.h>
#include <vibevoice/vv-audio.h>
#include <vibevoice/vv-session.h>
#include <vibevoice/vv-engine.h>
#include <vibevoice/vv-batcher.h>
