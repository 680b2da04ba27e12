// Placeholder until validation lands.
#include "model/network.h"
