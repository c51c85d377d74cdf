"""Neural-network building blocks shared by the models: float layers and their integer twins."""
