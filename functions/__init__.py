"""Example Lambda functions built on partnerdb; each folder is one function's package."""
