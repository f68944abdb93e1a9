"""Random three-word names for webhooks (``adjective-colour-animal``), from a CSPRNG."""

from __future__ import annotations

import secrets

ADJECTIVES = """
able agile amber ancient bold brave breezy bright brisk calm candid cheerful clever cosmic
crisp curious daring dazzling eager early easy electric elegant epic fair fancy fearless
fluffy fresh friendly gentle giant glad golden graceful grand happy hardy hasty honest
humble jolly keen kind lively loyal lucky lunar merry mighty modest nimble noble polite
proud quick quiet rapid rare rustic shiny silent simple sleek smart snappy solar sparkling
spry steady sturdy sunny swift tidy tiny tranquil trusty upbeat vivid warm wild wise witty
young zany zealous zesty
""".split()

COLOURS = """
amber apricot aqua azure beige black blue bronze brown burgundy cerulean charcoal cherry
chestnut cobalt copper coral cream crimson cyan denim ebony emerald fuchsia ginger gold
green grey hazel indigo ivory jade khaki lavender lemon lilac lime magenta mahogany maroon
mauve mint mustard navy ochre olive orange orchid peach pearl pink plum purple red rose
ruby rust saffron salmon sand sapphire scarlet sepia silver slate tan teal topaz turquoise
umber vanilla violet white yellow
""".split()

ANIMALS = """
albatross alpaca antelope badger bat beaver bison bobcat buffalo camel capybara caribou
cheetah chipmunk cobra condor cougar coyote crane cricket crow deer dingo dolphin donkey
eagle eel elk emu falcon ferret finch flamingo fox gazelle gecko gerbil gibbon giraffe
gnu goose gorilla hamster hare hawk hedgehog heron hippo hyena ibex iguana impala jackal
jaguar kangaroo koala lemur leopard lion llama lobster lynx macaw magpie manatee marmot
meerkat mole moose narwhal newt ocelot octopus orca osprey otter owl panda panther parrot
pelican penguin puffin quail rabbit raccoon raven reindeer salmon seal shark sloth sparrow
squid stork swan tapir tiger toucan turtle walrus weasel whale wolf wombat yak zebra
""".split()


def slug(wordlist_size: int = 0) -> str:
    """A random name like ``brave-teal-otter`` (about 690,000 combinations).

    ``wordlist_size`` > 0 draws from the first N words of each list only: a test
    knob (``WORDLIST_SIZE``) that makes names collide on purpose.
    """
    lists = (ADJECTIVES, COLOURS, ANIMALS)
    if wordlist_size > 0:
        lists = tuple(words[:wordlist_size] for words in lists)
    return "-".join(secrets.choice(words) for words in lists)
