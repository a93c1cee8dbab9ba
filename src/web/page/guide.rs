//! The words that teach: a short introduction (what the page is, the paper and its two
//! claims, what the DEMO badge means) and a "Try this" path built on the presets, each
//! step saying what to watch for and why it matters.

use leptos::prelude::*;

use super::store::Store;
use super::text;
use crate::perturb::{Kind, PRESETS};

#[component]
pub fn Intro() -> impl IntoView {
    let kinds = Kind::ALL
        .into_iter()
        .map(|k| view! { <li>{text::kind_sentence(k)}</li> })
        .collect_view();
    view! {
        <details class="intro" id="intro">
            <summary>"What is this? The network, the paper, the badge"</summary>
            <p>
                "AlexNet is the network that started deep learning's run on images (2012): five convolutional layers (conv1 to conv5) find edges, then textures, then parts of objects; three dense layers (fc6 to fc8) turn those into one of 1000 classes. This page runs it in your browser on a fixed set of real ImageNet photos and lets you break each layer and watch what happens."
            </p>
            <p>
                "Cheney, Schrimpf & Kreiman, "
                <a href="https://arxiv.org/abs/1703.08245" rel="noopener" target="_blank">
                    "On the robustness of convolutional neural networks to internal architecture and weight perturbations"
                </a>
                " (2017), found two things:"
            </p>
            <ol>
                <li>"With 70% of its weights removed at random, a top convolutional layer (conv5) or a dense layer keeps most of the network's accuracy."</li>
                <li>"The same damage to the first layer, conv1, drops it to near chance."</li>
            </ol>
            <p>"The damage kinds:"</p>
            <ul class="kinds">{kinds}</ul>
            <p>
                "The yellow DEMO badge means the official ImageNet weights could not be installed where this site was built: a small AlexNet trained on the sample images runs instead, so the numbers are real computations but not the paper's model. A green badge means torchvision's ImageNet AlexNet."
            </p>
            <p>"Every setting is in the link: send it, and others see exactly these numbers."</p>
        </details>
    }
}

/// One step of the path: the preset it applies (by name), what to watch, and why.
struct Step {
    preset: &'static str,
    watch: &'static str,
    why: &'static str,
}

const STEPS: [Step; 4] = [
    Step {
        preset: "70% removed in fc6 and fc7",
        watch: "Watch top-1: most of it stays, though fc6 and fc7 hold most of the network's weights and 70% of them are gone.",
        why: "Dense layers are redundant: many weights carry the same information.",
    },
    Step {
        preset: "70% removed in conv5",
        watch: "The top convolution also keeps most of its accuracy; see which images changed (orange rings).",
        why: "Late features are spread over many filters, so losing some blurs rather than breaks them.",
    },
    Step {
        preset: "70% removed in conv1",
        watch: "The same fraction in conv1, the smallest layer, sends accuracy to near chance: the figure's conv1 curve dives.",
        why: "Every later layer builds on conv1's few edge detectors: damage there reaches everything.",
    },
    Step {
        preset: "90% pruned everywhere",
        watch: "Removing the smallest 90% of every layer's weights hurts far less than removing them at random.",
        why: "Which weights go matters more than how many: this is why pruning compresses real networks.",
    },
];

#[component]
pub fn TryThis() -> impl IntoView {
    let store = Store::get();
    let steps = STEPS.iter().enumerate().filter_map(|(i, step)| {
        let preset = PRESETS.iter().find(|p| p.name == step.preset)?;
        let apply = move |_| store.update(|s| s.apply(preset));
        Some(view! {
            <li>
                <button class="preset" id=format!("try-{}", i + 1) on:click=apply>{format!("{}. {}", i + 1, preset.name)}</button>
                <span class="watch">{step.watch}</span>
                <span class="why">{step.why}</span>
            </li>
        })
    });
    view! {
        <details class="try" id="try-this">
            <summary>"Try this: four steps through the paper"</summary>
            <ol class="steps">{steps.collect_view()}</ol>
            <p class="why">"Reset puts every layer back; New seed draws other weights to remove, to see how much is luck."</p>
        </details>
    }
}
